// Scaled dot-product attention with the softmax in float32 (as diffusers' upcast), optionally over
// query chunks so that a long sequence never materialises its whole score matrix.
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';

export interface AttentionOptions {
  /** Defaults to 1/sqrt(head dim). */
  scale?: number;
  /** Added to the scores (broadcast to [..., Lq, Lk]); -Infinity masks a position. */
  bias?: Tensor;
  /** Queries per chunk; 0 or undefined = all at once. */
  chunkSize?: number;
}

/** q [..., Lq, d], k [..., Lk, d], v [..., Lk, dv] -> [..., Lq, dv]. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const scale = opts.scale ?? 1 / Math.sqrt(q.size(-1));
  const lq = q.size(-2);
  const chunk = opts.chunkSize && opts.chunkSize < lq ? opts.chunkSize : lq;
  const kt = k.transpose(-1, -2);
  const one = (qc: Tensor, bias?: Tensor) => torch.scope(() => {
    let scores = torch.matmul(qc.mul(scale), kt);
    if (bias) scores = scores.add(bias);
    const probs = scores.dtype === 'f32' ? scores.softmax(-1) : scores.softmax(-1, 'f32').to(v.dtype);
    return torch.matmul(probs, v);
  });
  if (chunk === lq) return one(q, opts.bias);
  const parts: Tensor[] = [];
  for (let s = 0; s < lq; s += chunk) {
    const n = Math.min(chunk, lq - s);
    const bias = opts.bias && opts.bias.size(-2) === lq ? opts.bias.narrow(-2, s, n) : opts.bias;
    parts.push(one(q.narrow(-2, s, n), bias));
  }
  const out = torch.cat(parts, -2);
  for (const p of parts) p.dispose();
  return out;
}

// The Perceiver resampler of IP-Adapter FaceID-Plus, as StableAnimator's face encoder uses it:
// a few latent tokens (the face tokens) repeatedly cross-attend to the context tokens (the CLIP
// image embedding) and to themselves. Keys follow `id_encoder.py`: `layers.N.0` the attention,
// `layers.N.1` the feed-forward Sequential.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';

/** LayerNorm -> Linear(dim, dim·mult, no bias) -> GELU -> Linear(dim·mult, dim, no bias), indices 0..3. */
export function feedForward(dim: number, mult = 4): nn.Sequential {
  const inner = dim * mult;
  return new nn.Sequential([
    new nn.LayerNorm(dim),
    new nn.Linear(dim, inner, { bias: false }),
    new nn.GELU(),
    new nn.Linear(inner, dim, { bias: false }),
  ]);
}

/** [B, L, heads·d] -> [B, heads, L, d]. */
function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, l] = x.shape;
  return x.view([b, l, heads, -1]).transpose(1, 2);
}

export class PerceiverAttention extends nn.Module {
  norm1: nn.LayerNorm;
  norm2: nn.LayerNorm;
  to_q: nn.Linear;
  to_kv: nn.Linear;
  to_out: nn.Linear;

  constructor(readonly dim: number, readonly dimHead = 64, readonly heads = 8) {
    super();
    const inner = dimHead * heads;
    this.norm1 = new nn.LayerNorm(dim);
    this.norm2 = new nn.LayerNorm(dim);
    this.to_q = new nn.Linear(dim, inner, { bias: false });
    this.to_kv = new nn.Linear(dim, inner * 2, { bias: false });
    this.to_out = new nn.Linear(inner, dim, { bias: false });
  }

  /**
   * x: context [B, Lx, dim]; latents: [B, L, dim] -> [B, L, dim]. The latents attend to the
   * concatenation [x, latents]; q and k are each scaled by dimHead^-1/4 and the softmax runs in f32.
   */
  forward(x: Tensor, latents: Tensor): Tensor {
    return torch.scope(() => {
      const xn = this.norm1.forward(x);
      const lat = this.norm2.forward(latents);
      const [b, l] = lat.shape;
      const q = splitHeads(this.to_q.forward(lat), this.heads);
      const [k, v] = this.to_kv.forward(torch.cat([xn, lat], -2)).chunk(2, -1).map((t) => splitHeads(t, this.heads));
      const s = 1 / Math.sqrt(Math.sqrt(this.dimHead));
      const scores = torch.matmul(q.mul(s), k.mul(s).transpose(-2, -1));
      const probs = scores.dtype === 'f32' ? scores.softmax(-1) : scores.softmax(-1, 'f32').to(scores.dtype);
      const out = torch.matmul(probs, v).transpose(1, 2).reshape([b, l, -1]);
      return this.to_out.forward(out);
    });
  }
}

/** One layer: `0` attention, `1` feed-forward; both residual. */
class PerceiverLayer extends nn.ModuleList {
  constructor(dim: number, dimHead: number, heads: number, ffMult: number) {
    super([new PerceiverAttention(dim, dimHead, heads), feedForward(dim, ffMult)]);
  }
  forward(x: Tensor, latents: Tensor): Tensor {
    const attn = this.at(0) as PerceiverAttention;
    const ff = this.at(1) as nn.Sequential;
    return torch.scope(() => {
      const h = attn.forward(x, latents).add(latents);
      return ff.forward(h).add(h);
    });
  }
}

export interface FacePerceiverConfig {
  dim: number;
  depth: number;
  dim_head: number;
  heads: number;
  /** Width of the context tokens (projected to `dim` by proj_in). */
  embedding_dim: number;
  output_dim: number;
  ff_mult: number;
}

export class FacePerceiver extends nn.Module {
  proj_in: nn.Linear;
  /** Zero-initialised in StableAnimator, so an untrained perceiver outputs norm_out's bias. */
  proj_out: nn.Linear;
  norm_out: nn.LayerNorm;
  layers: nn.ModuleList<PerceiverLayer>;

  constructor(readonly config: FacePerceiverConfig) {
    super();
    const c = config;
    this.proj_in = new nn.Linear(c.embedding_dim, c.dim);
    this.proj_out = new nn.Linear(c.dim, c.output_dim);
    for (const p of this.proj_out.parameters()) torch.noGrad(() => p.zero_());
    this.norm_out = new nn.LayerNorm(c.output_dim);
    this.layers = new nn.ModuleList(Array.from({ length: c.depth }, () => new PerceiverLayer(c.dim, c.dim_head, c.heads, c.ff_mult)));
  }

  /** latents: [B, L, dim] (the face tokens); x: [B, Lx, embedding_dim] (the context) -> [B, L, output_dim]. */
  forward(latents: Tensor, x: Tensor): Tensor {
    return torch.scope(() => {
      const ctx = this.proj_in.forward(x);
      let lat = latents;
      for (const layer of this.layers) lat = layer.forward(ctx, lat);
      return this.norm_out.forward(this.proj_out.forward(lat));
    });
  }
}

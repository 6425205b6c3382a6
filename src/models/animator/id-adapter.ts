// StableAnimator's distribution-aware ID-Adapter (`attention_processor_normalized.py`
// AnimationIDAttnNormalizedProcessor), the processor of every spatial cross-attention (attn2).
// The context tokens and the trailing face tokens are attended to separately; the face result is
// re-normalised to the mean and std of the context result (over tokens and channels, per batch·frame)
// before it is added, so the identity signal lives in the same feature distribution (paper, Sec. III-B).
// Its weights sit in the attention's state dict as `processor.id_to_k.weight`, `processor.id_to_v.weight`.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import type { Attention, AttentionProcessor } from '../svd/attention.ts';

export interface IdAdapterOptions {
  /** Trailing face tokens of the encoder states (4). */
  numTokens?: number;
  /** Weight of the aligned face branch (1.0 everywhere in the reference). */
  scale?: number;
  /** Added to the face branch's std before dividing (1e-5). */
  eps?: number;
  /**
   * Re-normalise the face branch to the context branch's statistics (true, the released model). False adds
   * it as is (IP-Adapter style), the paper's ablation without distribution alignment; same parameters.
   */
  alignDistribution?: boolean;
}

/** Install with `attn.setProcessor(p)` on a cross-attention (attn2) whose context ends with the face tokens. */
export class IdAdapterProcessor extends nn.Module implements AttentionProcessor {
  id_to_k: nn.Linear;
  id_to_v: nn.Linear;
  readonly numTokens: number;
  readonly scale: number;
  readonly eps: number;
  readonly alignDistribution: boolean;

  /** hiddenSize: the attention's inner width (heads·dim_head); crossAttentionDim: the encoder-state width. */
  constructor(readonly hiddenSize: number, readonly crossAttentionDim: number, opts: IdAdapterOptions = {}) {
    super();
    this.numTokens = opts.numTokens ?? 4;
    this.scale = opts.scale ?? 1.0;
    this.eps = opts.eps ?? 1e-5;
    this.alignDistribution = opts.alignDistribution ?? true;
    this.id_to_k = new nn.Linear(crossAttentionDim, hiddenSize, { bias: false });
    this.id_to_v = new nn.Linear(crossAttentionDim, hiddenSize, { bias: false });
  }

  /**
   * hidden: [B·F, N, query_dim]; encoderHiddenStates: [B·F, Lctx + numTokens, crossAttentionDim]
   * (context tokens first, face tokens last) -> [B·F, N, query_dim].
   *
   *   H   = attn(q, to_k(ctx), to_v(ctx));  IP = attn(q, id_to_k(face), id_to_v(face))
   *   IP' = (IP − mean(IP)) · std(H) / (std(IP) + eps) + mean(H)     (dims 1,2; unbiased std)
   *   out = to_out(H + scale · IP')
   *
   * With alignDistribution false: out = to_out(H + scale · IP).
   * All-zero encoder states (the CFG uncond branch) give H = IP = 0, std 0, so IP' = 0.
   */
  forward(attn: Attention, hidden: Tensor, encoderHiddenStates?: Tensor): Tensor {
    if (!encoderHiddenStates) throw new Error('IdAdapterProcessor: cross-attention only, encoder hidden states are required');
    if (hidden.ndim !== 3 || encoderHiddenStates.ndim !== 3) {
      throw new Error(`IdAdapterProcessor: expected 3-D hidden and encoder states, got [${hidden.shape}] and [${encoderHiddenStates.shape}]`);
    }
    const total = encoderHiddenStates.size(1);
    if (total <= this.numTokens) {
      throw new Error(`IdAdapterProcessor: encoder states have ${total} tokens, need context tokens before the ${this.numTokens} face tokens`);
    }
    return torch.scope(() => {
      const ctxLen = total - this.numTokens;
      const ctx = encoderHiddenStates.narrow(1, 0, ctxLen);
      const face = encoderHiddenStates.narrow(1, ctxLen, this.numTokens);
      const q = attn.to_q.forward(hidden);
      const h = attn.attend(q, attn.to_k.forward(ctx), attn.to_v.forward(ctx));
      const ip = attn.attend(q, this.id_to_k.forward(face), this.id_to_v.forward(face));
      const aligned = this.alignDistribution ? this.align(ip, h) : ip;
      const mixed = this.scale === 1 ? h.add(aligned) : h.add(aligned.mul(this.scale));
      return attn.projectOut(mixed);
    });
  }

  /** IP' : ip moved to h's mean and std over tokens and channels (dims 1,2; unbiased std). */
  private align(ip: Tensor, h: Tensor): Tensor {
    const [sdH, muH] = torch.stdMean(h, [1, 2], 1, true);
    const [sdI, muI] = torch.stdMean(ip, [1, 2], 1, true);
    return ip.sub(muI).mul(sdH.div(sdI.add(this.eps))).add(muH);
  }
}

/**
 * The reference's initialisation: an ID-Adapter whose id_to_k / id_to_v start as copies of the
 * attention's to_k / to_v (the released `unet.pth` then overwrites them).
 */
export function idAdapterFromAttention(attn: Attention, numTokens = 4, opts: Omit<IdAdapterOptions, 'numTokens'> = {}): IdAdapterProcessor {
  const [hiddenSize, crossAttentionDim] = attn.to_k.weight.shape;
  const proc = nn.withInit({ device: 'meta' }, () => new IdAdapterProcessor(hiddenSize, crossAttentionDim, { ...opts, numTokens }));
  const copy = (t: Tensor) => torch.noGrad(() => t.clone());
  proc.loadStateDict(new Map([['id_to_k.weight', copy(attn.to_k.weight)], ['id_to_v.weight', copy(attn.to_v.weight)]]), { assign: true });
  return proc;
}

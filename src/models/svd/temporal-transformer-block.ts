// diffusers' `TemporalBasicTransformerBlock`: attention along the frame axis at every spatial position.
// Tokens [B·F, S, C] are regrouped to [B·S, F, C]; a GEGLU feed-forward (norm_in/ff_in) precedes
// self-attention over frames (norm1/attn1), cross-attention to the per-video context (norm2/attn2)
// and the final feed-forward (norm3/ff).
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { Attention } from './attention.ts';
import { FeedForward } from './feed-forward.ts';
import { consume, residual } from './residual.ts';

export class TemporalBasicTransformerBlock extends nn.Module {
  norm_in: nn.LayerNorm;
  ff_in: FeedForward;
  norm1: nn.LayerNorm;
  attn1: Attention;
  norm2?: nn.LayerNorm;
  attn2?: Attention;
  norm3: nn.LayerNorm;
  ff: FeedForward;
  readonly isRes: boolean;

  constructor(dim: number, timeMixInnerDim: number, heads: number, dimHead: number, crossAttentionDim?: number) {
    super();
    this.isRes = dim === timeMixInnerDim;
    this.norm_in = new nn.LayerNorm(dim);
    this.ff_in = new FeedForward(dim, { dimOut: timeMixInnerDim });
    this.norm1 = new nn.LayerNorm(timeMixInnerDim);
    this.attn1 = new Attention({ query_dim: timeMixInnerDim, heads, dim_head: dimHead });
    if (crossAttentionDim !== undefined) {
      this.norm2 = new nn.LayerNorm(timeMixInnerDim);
      this.attn2 = new Attention({ query_dim: timeMixInnerDim, cross_attention_dim: crossAttentionDim, heads, dim_head: dimHead });
    }
    this.norm3 = new nn.LayerNorm(timeMixInnerDim);
    this.ff = new FeedForward(timeMixInnerDim);
  }

  /**
   * hidden [B·F, S, C] (frames of a video consecutive); context [B, T, cross_dim], one per video
   * (diffusers broadcasts it to every spatial position: the same keys for all of a video's tokens,
   * so the attention is computed per video without the copies) -> [B·F, S, C].
   */
  forward(hidden: Tensor, numFrames: number, context?: Tensor): Tensor {
    return torch.scope(() => {
      const [bf, s, c] = hidden.shape;
      const b = bf / numFrames;
      let h = hidden.reshape([b, numFrames, s, c]).transpose(1, 2).reshape([b * s, numFrames, c]);
      const ffIn = (x: Tensor) => this.ff_in.forward(this.norm_in.forward(x));
      h = this.isRes ? residual(h, ffIn, true) : consume(h, ffIn);
      h = residual(h, (x) => this.attn1.forward(this.norm1.forward(x)), true);
      if (this.attn2 && this.norm2 && context) {
        const [norm2, attn2] = [this.norm2, this.attn2];
        const perVideo = h.view([b, s * numFrames, -1]);
        h.dispose();
        h = residual(perVideo, (x) => attn2.forward(norm2.forward(x), context), true).view([b * s, numFrames, -1]);
      }
      const ff = (x: Tensor) => this.ff.forward(this.norm3.forward(x));
      h = this.isRes ? residual(h, ff, true) : consume(h, ff);
      return h.view([b, s, numFrames, -1]).transpose(1, 2).reshape([bf, s, -1]);
    });
  }
}

// diffusers' `BasicTransformerBlock` as the SVD UNet builds it: pre-LayerNorm self-attention,
// cross-attention and GEGLU feed-forward, each with a residual (norm1/attn1, norm2/attn2, norm3/ff).
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { Attention } from './attention.ts';
import { FeedForward } from './feed-forward.ts';
import { residual } from './residual.ts';

export class BasicTransformerBlock extends nn.Module {
  norm1: nn.LayerNorm;
  attn1: Attention;
  norm2: nn.LayerNorm;
  attn2: Attention;
  norm3: nn.LayerNorm;
  ff: FeedForward;

  constructor(dim: number, heads: number, dimHead: number, crossAttentionDim: number, eps = 1e-5) {
    super();
    this.norm1 = new nn.LayerNorm(dim, eps);
    this.attn1 = new Attention({ query_dim: dim, heads, dim_head: dimHead });
    this.norm2 = new nn.LayerNorm(dim, eps);
    this.attn2 = new Attention({ query_dim: dim, cross_attention_dim: crossAttentionDim, heads, dim_head: dimHead });
    this.norm3 = new nn.LayerNorm(dim, eps);
    this.ff = new FeedForward(dim);
  }

  /** hidden [N, L, dim], encoderHiddenStates [N, T, cross_dim] -> [N, L, dim]. */
  forward(hidden: Tensor, encoderHiddenStates: Tensor): Tensor {
    return torch.scope(() => {
      let h = residual(hidden, (x) => this.attn1.forward(this.norm1.forward(x)));
      h = residual(h, (x) => this.attn2.forward(this.norm2.forward(x), encoderHiddenStates), true);
      return residual(h, (x) => this.ff.forward(this.norm3.forward(x)), true);
    });
  }
}

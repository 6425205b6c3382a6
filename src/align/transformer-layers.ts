// The attention layers of the learnable alignment block, named as PyTorch's nn.MultiheadAttention and
// nn.TransformerEncoderLayer(norm_first=True) name theirs (in_proj_weight, out_proj, linear1, linear2, norm1,
// norm2), so a state dict written here loads into those PyTorch modules and back.
//
// Masks are per key token: 1 = present, 0 = missing. A missing key gets a -1e9 score bias, whose softmax
// weight underflows to exactly 0 in f32, so whatever a missing token holds never reaches a present one.

import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import * as nn from '../nn/index.ts';

const MASKED_SCORE = -1e9;

/** [B, Lk] mask (1 present, 0 missing) -> additive score bias [B, 1, 1, Lk]. */
export function keyMaskBias(mask: Tensor): Tensor {
  return mask.float().sub(1).mul(-MASKED_SCORE).unsqueeze(1).unsqueeze(1);
}

/** Multi-head attention with packed q/k/v input projections, as nn.MultiheadAttention(batch_first=True). */
export class MultiheadAttention extends nn.Module {
  in_proj_weight: Tensor;
  in_proj_bias: Tensor;
  out_proj: nn.Linear;

  constructor(readonly embedDim: number, readonly numHeads: number) {
    super();
    if (embedDim % numHeads !== 0) throw new Error(`MultiheadAttention: embed dim ${embedDim} is not divisible by ${numHeads} heads`);
    // PyTorch: xavier_uniform_ on the packed weight, zero biases.
    this.in_proj_weight = nn.parameter(nn.init.uniform([3 * embedDim, embedDim], Math.sqrt(6 / (4 * embedDim))));
    this.in_proj_bias = nn.parameter(nn.init.constant([3 * embedDim], 0));
    this.out_proj = new nn.Linear(embedDim, embedDim);
    torch.noGrad(() => this.out_proj.bias!.zero_());
  }

  /** query [B, Lq, D], context [B, Lk, D], keyMask [B, Lk] -> [B, Lq, D]. */
  forward(query: Tensor, context: Tensor, keyMask?: Tensor): Tensor {
    const [b, lq, d] = query.shape as [number, number, number];
    const lk = context.size(1);
    const h = this.numHeads;
    const [wq, wk, wv] = this.in_proj_weight.chunk(3, 0) as [Tensor, Tensor, Tensor];
    const [bq, bk, bv] = this.in_proj_bias.chunk(3, 0) as [Tensor, Tensor, Tensor];
    const heads = (x: Tensor, len: number) => x.view([b, len, h, d / h]).transpose(1, 2);
    const q = heads(torch.linear(query, wq, bq), lq);
    const k = heads(torch.linear(context, wk, bk), lk);
    const v = heads(torch.linear(context, wv, bv), lk);
    const bias = keyMask ? keyMaskBias(keyMask) : undefined;
    const out = nn.scaledDotProductAttention(q, k, v, { bias });
    return this.out_proj.forward(out.transpose(1, 2).reshape([b, lq, d]));
  }
}

/** Pre-norm encoder layer: x + SelfAttn(LN(x)), then x + FFN(LN(x)). */
export class TransformerEncoderLayer extends nn.Module {
  self_attn: MultiheadAttention;
  linear1: nn.Linear;
  linear2: nn.Linear;
  norm1: nn.LayerNorm;
  norm2: nn.LayerNorm;

  constructor(dim: number, numHeads: number, ffDim: number) {
    super();
    this.self_attn = new MultiheadAttention(dim, numHeads);
    this.linear1 = new nn.Linear(dim, ffDim);
    this.linear2 = new nn.Linear(ffDim, dim);
    this.norm1 = new nn.LayerNorm(dim);
    this.norm2 = new nn.LayerNorm(dim);
  }

  forward(x: Tensor, mask?: Tensor): Tensor {
    const n = this.norm1.forward(x);
    x = x.add(this.self_attn.forward(n, n, mask));
    return x.add(this.linear2.forward(this.linear1.forward(this.norm2.forward(x)).gelu()));
  }
}

/**
 * One module of the Pose Fusion Block (eq. 9): cross-attention from the motion features (queries) to the
 * SVD-guidance features (keys and values), then an FFN, both pre-norm and residual.
 */
export class PoseFusionLayer extends nn.Module {
  multihead_attn: MultiheadAttention;
  linear1: nn.Linear;
  linear2: nn.Linear;
  norm1: nn.LayerNorm;
  norm2: nn.LayerNorm;

  constructor(dim: number, numHeads: number, ffDim: number) {
    super();
    this.multihead_attn = new MultiheadAttention(dim, numHeads);
    this.linear1 = new nn.Linear(dim, ffDim);
    this.linear2 = new nn.Linear(ffDim, dim);
    this.norm1 = new nn.LayerNorm(dim);
    this.norm2 = new nn.LayerNorm(dim);
  }

  /** x [B, K, D] motion features, guide [B, K, D] (already normalised by its encoder), guideMask [B, K]. */
  forward(x: Tensor, guide: Tensor, guideMask?: Tensor): Tensor {
    x = x.add(this.multihead_attn.forward(this.norm1.forward(x), guide, guideMask));
    return x.add(this.linear2.forward(this.linear1.forward(this.norm2.forward(x)).gelu()));
  }
}

/**
 * A keypoint-sequence encoder (E1 and E2 share this architecture): a linear embedding of each keypoint's
 * features, a learned position embedding per keypoint id, the encoder layers, and a final LayerNorm.
 */
export class PoseEncoder extends nn.Module {
  proj_in: nn.Linear;
  pos_embed: Tensor;
  layers: nn.ModuleList<TransformerEncoderLayer>;
  norm: nn.LayerNorm;

  constructor(inFeatures: number, numTokens: number, dim: number, numHeads: number, ffDim: number, numLayers: number) {
    super();
    this.proj_in = new nn.Linear(inFeatures, dim);
    this.pos_embed = nn.parameter(nn.init.normal([numTokens, dim], 0.02));
    this.layers = new nn.ModuleList(Array.from({ length: numLayers }, () => new TransformerEncoderLayer(dim, numHeads, ffDim)));
    this.norm = new nn.LayerNorm(dim);
  }

  /** features [B, K, F], mask [B, K] -> [B, K, D]. */
  forward(features: Tensor, mask?: Tensor): Tensor {
    let x = this.proj_in.forward(features).add(this.pos_embed);
    for (const layer of this.layers) x = layer.forward(x, mask);
    return this.norm.forward(x);
  }
}

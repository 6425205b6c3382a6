// diffusers' `Attention` (to_q, to_k, to_v, to_out.0; optional group_norm, residual connection and
// output rescale) with the math of its default processor (AttnProcessor2_0).
//
// Pluggable processors (StableAnimator's ID-Adapter): an `Attention` may hold a child module named
// `processor`, so its weights appear in the state dict as `...attn2.processor.id_to_k.weight`. When
// present, `processor.forward(attn, hidden, encoderHiddenStates)` replaces the plain attention: it gets
// `hidden` as [B, L, query_dim] (already flattened from 4-D and group-normalised when this Attention
// has a group_norm) and returns the projected output [B, L, query_dim] (after to_out), and this
// Attention then adds the residual and rescales when configured (as every diffusers processor does).
// `attn.attend(q, k, v)` and `attn.projectOut(x)` are the building blocks a processor needs.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';

export interface AttentionProcessor extends nn.Module {
  forward(attn: Attention, hidden: Tensor, encoderHiddenStates?: Tensor): Tensor;
}

/** diffusers' `Attention` constructor arguments, by their names (snake_case, as every model config). */
export interface AttentionConfig {
  query_dim: number;
  /** Width of the encoder states for cross-attention; self-attention when absent. */
  cross_attention_dim?: number;
  heads?: number;
  dim_head?: number;
  /** Bias of to_q/to_k/to_v (default false). */
  bias?: boolean;
  /** Bias of to_out.0 (default true). */
  out_bias?: boolean;
  /** GroupNorm over the input channels first (VAE mid blocks). */
  norm_num_groups?: number;
  eps?: number;
  residual_connection?: boolean;
  rescale_output_factor?: number;
  dropout?: number;
}

/** Score-matrix elements per attention call before queries are processed in chunks (2^25 = 128 MiB in f32). */
export const DEFAULT_MAX_SCORE_ELEMENTS = 2 ** 25;

export class Attention extends nn.Module {
  group_norm?: nn.GroupNorm;
  to_q: nn.Linear;
  to_k: nn.Linear;
  to_v: nn.Linear;
  /** [0] the output Linear, [1] Dropout (diffusers numbering). */
  to_out: nn.ModuleList<nn.Layer>;
  processor?: AttentionProcessor;

  readonly heads: number;
  readonly dimHead: number;
  readonly innerDim: number;
  readonly scale: number;
  readonly residualConnection: boolean;
  readonly rescaleOutputFactor: number;
  readonly isCrossAttention: boolean;
  /** Bound on the [batch·heads, queries, keys] score matrix of one step; longer query sets are chunked. */
  maxScoreElements = DEFAULT_MAX_SCORE_ELEMENTS;

  constructor(cfg: AttentionConfig) {
    super();
    this.heads = cfg.heads ?? 8;
    this.dimHead = cfg.dim_head ?? 64;
    this.innerDim = this.heads * this.dimHead;
    this.scale = 1 / Math.sqrt(this.dimHead);
    this.residualConnection = cfg.residual_connection ?? false;
    this.rescaleOutputFactor = cfg.rescale_output_factor ?? 1;
    this.isCrossAttention = cfg.cross_attention_dim !== undefined;
    const bias = cfg.bias ?? false;
    const kvDim = cfg.cross_attention_dim ?? cfg.query_dim;
    if (cfg.norm_num_groups) this.group_norm = new nn.GroupNorm(cfg.norm_num_groups, cfg.query_dim, cfg.eps ?? 1e-5);
    this.to_q = new nn.Linear(cfg.query_dim, this.innerDim, { bias });
    this.to_k = new nn.Linear(kvDim, this.innerDim, { bias });
    this.to_v = new nn.Linear(kvDim, this.innerDim, { bias });
    this.to_out = new nn.ModuleList<nn.Layer>([
      new nn.Linear(this.innerDim, cfg.query_dim, { bias: cfg.out_bias ?? true }),
      new nn.Dropout(cfg.dropout ?? 0),
    ]);
  }

  /** Installs (or with undefined removes) a processor; its parameters join the state dict under `processor.`. */
  setProcessor(processor: AttentionProcessor | undefined): void {
    if (processor) this.processor = processor;
    else delete this.processor;
  }

  /** hidden [B, L, query_dim] or [B, C, H, W]; encoderHiddenStates [B, T, cross_dim] -> same shape as hidden. */
  forward(hidden: Tensor, encoderHiddenStates?: Tensor): Tensor {
    return torch.scope(() => {
      const image = hidden.ndim === 4 ? hidden.shape : undefined;
      let x = hidden;
      if (this.group_norm) x = image ? this.group_norm.forward(x) : this.group_norm.forward(x.transpose(1, 2)).transpose(1, 2);
      if (image) x = x.flatten(2).transpose(1, 2);
      let out = this.processor ? this.processor.forward(this, x, encoderHiddenStates) : this.plainAttention(x, encoderHiddenStates);
      if (image) out = out.transpose(1, 2).reshape(image);
      if (this.residualConnection) out = out.add(hidden);
      if (this.rescaleOutputFactor !== 1) out = out.div(this.rescaleOutputFactor);
      return out;
    });
  }

  /** Plain softmax attention: to_out(softmax(q·kᵀ/√d)·v) over hidden (self) or the encoder states. */
  plainAttention(hidden: Tensor, encoderHiddenStates?: Tensor): Tensor {
    const context = encoderHiddenStates ?? hidden;
    if (context.size(1) === 1 && !this.queryNeedsGrad()) {
      // One key: the softmax is exactly 1, every query reads v. Skips to_q/to_k and the per-query
      // output projection (SVD's image-token cross-attention and single-frame temporal attention).
      const out = this.projectOut(this.to_v.forward(context));
      return out.expand([hidden.size(0), hidden.size(1), out.size(2)]);
    }
    const q = this.to_q.forward(hidden);
    const k = this.to_k.forward(context);
    const v = this.to_v.forward(context);
    return this.projectOut(this.attend(q, k, v));
  }

  /**
   * Multi-head scaled dot-product attention on projected tensors: q [B, Lq, heads·d], k/v [B, Lk, heads·d]
   * -> [B, Lq, heads·d], softmax in float32, query chunks bounded by maxScoreElements.
   */
  attend(q: Tensor, k: Tensor, v: Tensor): Tensor {
    return torch.scope(() => {
      const [b, lq] = q.shape;
      const lk = k.size(1);
      // [B, heads, L, d] made contiguous once: matmul folds (B, heads) into one batch dimension,
      // and would otherwise copy k and v again for every chunk of queries
      const split = (x: Tensor) => x.view([x.size(0), x.size(1), this.heads, -1]).transpose(1, 2).contiguous();
      const perQuery = b * this.heads * lk;
      const chunkSize = perQuery * lq > this.maxScoreElements ? Math.max(1, Math.floor(this.maxScoreElements / perQuery)) : undefined;
      const o = nn.scaledDotProductAttention(split(q), split(k), split(v), { scale: this.scale, chunkSize });
      return o.transpose(1, 2).reshape([b, lq, -1]);
    });
  }

  /** to_out: the output Linear then Dropout. */
  projectOut(x: Tensor): Tensor {
    return this.to_out.at(1).forward(this.to_out.at(0).forward(x));
  }

  /** Whether autograd needs the query path (it contributes an exact zero gradient with one key). */
  private queryNeedsGrad(): boolean {
    return torch.isGradEnabled() && (this.to_q.weight.requiresGrad || this.to_k.weight.requiresGrad);
  }
}

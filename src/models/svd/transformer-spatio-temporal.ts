// diffusers' `TransformerSpatioTemporalModel`: per-frame spatial transformer blocks interleaved with
// temporal blocks (with a sinusoidal frame-position embedding), blended by a learned AlphaBlender.
//
// StableAnimator (`numFaceTokens`, its num_tokens=4): the encoder states are [CLIP token(s), face
// tokens]; the spatial blocks (whose attn2 carry the ID-Adapter processor) see all of them, the
// temporal blocks only `encoderHiddenStates[:, :-numFaceTokens]`. With 0 (SVD) they see everything.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { AlphaBlender } from './alpha-blender.ts';
import type { FrameLayout } from './spatio-temporal-res-block.ts';
import { TemporalBasicTransformerBlock } from './temporal-transformer-block.ts';
import { TimestepEmbedding } from './timestep-embedding.ts';
import { Timesteps } from './timesteps.ts';
import { BasicTransformerBlock } from './transformer-block.ts';

export interface TransformerSpatioTemporalOptions {
  numLayers?: number;
  crossAttentionDim?: number;
  /** Trailing face tokens that the temporal blocks do not see (StableAnimator: 4). */
  numFaceTokens?: number;
}

export class TransformerSpatioTemporalModel extends nn.Module {
  norm: nn.GroupNorm;
  proj_in: nn.Linear;
  transformer_blocks: nn.ModuleList<BasicTransformerBlock>;
  temporal_transformer_blocks: nn.ModuleList<TemporalBasicTransformerBlock>;
  time_pos_embed: TimestepEmbedding;
  time_proj: Timesteps;
  time_mixer: AlphaBlender;
  proj_out: nn.Linear;
  readonly numFaceTokens: number;

  constructor(heads: number, dimHead: number, readonly inChannels: number, opts: TransformerSpatioTemporalOptions = {}) {
    super();
    const inner = heads * dimHead;
    const layers = opts.numLayers ?? 1;
    const cross = opts.crossAttentionDim;
    if (cross === undefined) throw new Error('TransformerSpatioTemporalModel: crossAttentionDim is required');
    this.numFaceTokens = opts.numFaceTokens ?? 0;
    this.norm = new nn.GroupNorm(32, inChannels, 1e-6);
    this.proj_in = new nn.Linear(inChannels, inner);
    this.transformer_blocks = new nn.ModuleList(Array.from({ length: layers }, () => new BasicTransformerBlock(inner, heads, dimHead, cross)));
    this.temporal_transformer_blocks = new nn.ModuleList(
      Array.from({ length: layers }, () => new TemporalBasicTransformerBlock(inner, inner, heads, dimHead, cross)));
    this.time_pos_embed = new TimestepEmbedding(inChannels, inChannels * 4, inChannels);
    this.time_proj = new Timesteps(inChannels, true, 0);
    this.time_mixer = new AlphaBlender(0.5, 'learned_with_images');
    this.proj_out = new nn.Linear(inner, inChannels);
  }

  /** x [B·F, C, H, W], encoderHiddenStates [B·F, T, cross_dim] (the same for every frame of a video). */
  forward(x: Tensor, encoderHiddenStates: Tensor, frames: FrameLayout): Tensor {
    return torch.scope(() => {
      const [bf, c, height, width] = x.shape;
      const f = frames.numFrames;
      if (bf % f) throw new Error(`TransformerSpatioTemporalModel: batch ${bf} is not a multiple of ${f} frames`);
      const b = bf / f;
      // the temporal context: the first frame's states of each video, without the face tokens
      const tokens = encoderHiddenStates.size(1);
      if (this.numFaceTokens >= tokens) {
        throw new Error(`TransformerSpatioTemporalModel: ${tokens} encoder tokens leave none for the temporal blocks after ${this.numFaceTokens} face tokens`);
      }
      const timeContext = encoderHiddenStates.reshape([b, f, tokens, -1]).select(1, 0).narrow(1, 0, tokens - this.numFaceTokens);

      let h = this.norm.forward(x);
      const flat = h.permute([0, 2, 3, 1]).reshape([bf, height * width, c]);
      h.dispose();
      h = this.proj_in.forward(flat);
      flat.dispose();

      const framePos = torch.arange(0, f, 1, 'i64', undefined, x.device);
      const emb = this.time_pos_embed.forward(this.time_proj.forward(framePos).to(h.dtype)).repeat([b, 1]).unsqueeze(1);
      let weight = this.time_mixer.temporalWeight(frames.imageOnlyIndicator);
      if (weight.ndim === 2) weight = weight.reshape([bf, 1, 1]);

      const blocks = [...this.transformer_blocks];
      const temporal = [...this.temporal_transformer_blocks];
      for (let i = 0; i < blocks.length; i++) {
        const spatial = blocks[i].forward(h, encoderHiddenStates);
        h.dispose();
        const mixed = torch.scope(() => temporal[i].forward(spatial.add(emb), f, timeContext));
        h = this.time_mixer.forward(spatial, mixed, weight);
        spatial.dispose();
        mixed.dispose();
      }
      const out = this.proj_out.forward(h);
      h.dispose();
      return x.add(out.view([bf, height, width, c]).permute([0, 3, 1, 2]));
    });
  }
}

// diffusers' `UNetSpatioTemporalConditionModel` (Stable Video Diffusion), built from its config.json,
// with StableAnimator's two additions: `poseLatents` added right after conv_in, and `numFaceTokens`
// trailing encoder tokens kept from the temporal transformers (see transformer-spatio-temporal.ts;
// the ID-Adapter processors go on the spatial attn2 layers, see `spatialCrossAttentions`).
import * as torch from '../../torch/index.ts';
import type { Device, DType, Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import type { Attention, AttentionProcessor } from './attention.ts';
import { knownFields } from '../config.ts';
import { setMemoryLimits, type MemoryLimits } from './memory-limits.ts';
import { loadPretrained } from './pretrained.ts';
import type { FrameLayout } from './spatio-temporal-res-block.ts';
import { TimestepEmbedding } from './timestep-embedding.ts';
import { Timesteps } from './timesteps.ts';
import { CrossAttnDownBlockSpatioTemporal, DownBlockSpatioTemporal } from './unet-down-blocks.ts';
import { UNetMidBlockSpatioTemporal } from './unet-mid-block.ts';
import { CrossAttnUpBlockSpatioTemporal, UpBlockSpatioTemporal } from './unet-up-blocks.ts';

/** The diffusers config fields (snake_case, as in config.json), defaults as diffusers'. */
export interface UNetSpatioTemporalConfig {
  sample_size: number | null;
  in_channels: number;
  out_channels: number;
  down_block_types: string[];
  up_block_types: string[];
  block_out_channels: number[];
  addition_time_embed_dim: number;
  projection_class_embeddings_input_dim: number;
  layers_per_block: number | number[];
  cross_attention_dim: number | number[];
  transformer_layers_per_block: number | number[];
  num_attention_heads: number | number[];
  num_frames: number;
}

export const UNET_DEFAULT_CONFIG: UNetSpatioTemporalConfig = {
  sample_size: null,
  in_channels: 8,
  out_channels: 4,
  down_block_types: ['CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'DownBlockSpatioTemporal'],
  up_block_types: ['UpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal'],
  block_out_channels: [320, 640, 1280, 1280],
  addition_time_embed_dim: 256,
  projection_class_embeddings_input_dim: 768,
  layers_per_block: 2,
  cross_attention_dim: 1024,
  transformer_layers_per_block: 1,
  num_attention_heads: [5, 10, 20, 20],
  num_frames: 25,
};

export interface UNetOptions {
  /** StableAnimator: trailing face tokens of the encoder states that the temporal blocks skip (4). Default 0. */
  numFaceTokens?: number;
}

export interface UNetForwardOptions {
  /** StableAnimator PoseNet output [(B·F), block_out_channels[0], h, w], added to conv_in's output. */
  poseLatents?: Tensor;
  /** [B, F], 1 for frames that are still images; default all zeros (as the SVD UNet always builds it). */
  imageOnlyIndicator?: Tensor;
}

type DownBlock = DownBlockSpatioTemporal | CrossAttnDownBlockSpatioTemporal;
type UpBlock = UpBlockSpatioTemporal | CrossAttnUpBlockSpatioTemporal;

const perBlock = (v: number | number[], n: number, name: string): number[] => {
  const out = Array.isArray(v) ? v : Array(n).fill(v);
  if (out.length !== n) throw new Error(`UNet config: ${name} has ${out.length} entries for ${n} blocks`);
  return out;
};

export class UNetSpatioTemporalConditionModel extends nn.Module {
  conv_in: nn.Conv2d;
  time_proj: Timesteps;
  time_embedding: TimestepEmbedding;
  add_time_proj: Timesteps;
  add_embedding: TimestepEmbedding;
  down_blocks: nn.ModuleList<DownBlock>;
  up_blocks: nn.ModuleList<UpBlock>;
  mid_block: UNetMidBlockSpatioTemporal;
  conv_norm_out: nn.GroupNorm;
  conv_act: nn.SiLU;
  conv_out: nn.Conv2d;
  readonly config: UNetSpatioTemporalConfig;
  readonly numFaceTokens: number;

  constructor(config: Partial<UNetSpatioTemporalConfig> = {}, opts: UNetOptions = {}) {
    super();
    const c: UNetSpatioTemporalConfig = { ...UNET_DEFAULT_CONFIG, ...config };
    this.config = c;
    this.numFaceTokens = opts.numFaceTokens ?? 0;
    const nBlocks = c.down_block_types.length;
    if (c.up_block_types.length !== nBlocks) throw new Error(`UNet config: ${nBlocks} down blocks but ${c.up_block_types.length} up blocks`);
    if (c.block_out_channels.length !== nBlocks) throw new Error(`UNet config: ${c.block_out_channels.length} block_out_channels for ${nBlocks} blocks`);
    const heads = perBlock(c.num_attention_heads, nBlocks, 'num_attention_heads');
    const cross = perBlock(c.cross_attention_dim, nBlocks, 'cross_attention_dim');
    const layers = perBlock(c.layers_per_block, nBlocks, 'layers_per_block');
    const tLayers = perBlock(c.transformer_layers_per_block, nBlocks, 'transformer_layers_per_block');
    const boc = c.block_out_channels;
    const temb = boc[0] * 4;
    const faces = this.numFaceTokens;

    this.conv_in = new nn.Conv2d(c.in_channels, boc[0], 3, { padding: 1 });
    this.time_proj = new Timesteps(boc[0], true, 0);
    this.time_embedding = new TimestepEmbedding(boc[0], temb);
    this.add_time_proj = new Timesteps(c.addition_time_embed_dim, true, 0);
    this.add_embedding = new TimestepEmbedding(c.projection_class_embeddings_input_dim, temb);

    // diffusers hard-codes the resnet eps per block class: 1e-6 for the cross-attention down blocks
    // and all up blocks, 1e-5 for the plain down block and the mid block.
    this.down_blocks = new nn.ModuleList<DownBlock>(c.down_block_types.map((type, i) => {
      const base = {
        inChannels: i === 0 ? boc[0] : boc[i - 1], outChannels: boc[i], tembChannels: temb,
        numLayers: layers[i], addDownsample: i < nBlocks - 1,
      };
      if (type === 'DownBlockSpatioTemporal') return new DownBlockSpatioTemporal({ ...base, resnetEps: 1e-5 });
      if (type === 'CrossAttnDownBlockSpatioTemporal') {
        return new CrossAttnDownBlockSpatioTemporal({
          ...base, resnetEps: 1e-6, transformerLayers: Array(layers[i]).fill(tLayers[i]), numAttentionHeads: heads[i],
          crossAttentionDim: cross[i], numFaceTokens: faces,
        });
      }
      throw new Error(`UNet config: unsupported down block type '${type}'`);
    }));

    const rev = <T>(xs: T[]) => [...xs].reverse();
    const [rBoc, rHeads, rLayers, rCross, rTLayers] = [rev(boc), rev(heads), rev(layers), rev(cross), rev(tLayers)];
    this.up_blocks = new nn.ModuleList<UpBlock>(c.up_block_types.map((type, i) => {
      const base = {
        inChannels: rBoc[Math.min(i + 1, nBlocks - 1)], prevOutputChannels: i === 0 ? rBoc[0] : rBoc[i - 1], outChannels: rBoc[i],
        tembChannels: temb, numLayers: rLayers[i] + 1, addUpsample: i < nBlocks - 1, resnetEps: 1e-6,
      };
      if (type === 'UpBlockSpatioTemporal') return new UpBlockSpatioTemporal(base);
      if (type === 'CrossAttnUpBlockSpatioTemporal') {
        return new CrossAttnUpBlockSpatioTemporal({
          ...base, transformerLayers: Array(base.numLayers).fill(rTLayers[i]), numAttentionHeads: rHeads[i],
          crossAttentionDim: rCross[i], numFaceTokens: faces,
        });
      }
      throw new Error(`UNet config: unsupported up block type '${type}'`);
    }));

    this.mid_block = new UNetMidBlockSpatioTemporal({
      channels: boc[nBlocks - 1], tembChannels: temb, transformerLayers: [tLayers[nBlocks - 1]],
      numAttentionHeads: heads[nBlocks - 1], crossAttentionDim: cross[nBlocks - 1], numFaceTokens: faces,
    });
    this.conv_norm_out = new nn.GroupNorm(32, boc[0], 1e-5);
    this.conv_act = new nn.SiLU();
    this.conv_out = new nn.Conv2d(boc[0], c.out_channels, 3, { padding: 1 });
  }

  /** A model from a diffusers config.json object (unknown fields such as _class_name are ignored). */
  static fromConfig(json: Record<string, unknown>, opts: UNetOptions = {}): UNetSpatioTemporalConditionModel {
    return new UNetSpatioTemporalConditionModel(knownFields(json, UNET_DEFAULT_CONFIG), opts);
  }

  /**
   * Loads `dir/config.json` and `dir/diffusion_pytorch_model[.fp16].safetensors` (the diffusers layout
   * of SVD's `unet/` folder) into a model built without memory, tensor by tensor.
   */
  static fromPretrained(dir: string, opts: UNetOptions & { dtype?: DType; device?: Device; variant?: 'fp16' } = {}): UNetSpatioTemporalConditionModel {
    return loadPretrained(dir, 'UNetSpatioTemporalConditionModel', (cfg) => UNetSpatioTemporalConditionModel.fromConfig(cfg, opts), opts);
  }

  /**
   * sample [B, F, in, H, W]; timestep a number or [B]/[1]/[] tensor (SVD: 0.25·ln σ);
   * encoderHiddenStates [B, T, cross_dim]; addedTimeIds [B, n] (SVD: fps−1, motion bucket, noise aug)
   * -> [B, F, out, H, W].
   */
  forward(sample: Tensor, timestep: Tensor | number, encoderHiddenStates: Tensor, addedTimeIds: Tensor, opts: UNetForwardOptions = {}): Tensor {
    if (sample.ndim !== 5) throw new Error(`UNet: sample must be [batch, frames, channels, height, width], got [${sample.shape}]`);
    return torch.scope(() => {
      const [b, f, , height, width] = sample.shape;
      // 1. time: embedding of the noise level plus the embedded added time ids
      const t = typeof timestep === 'number' ? torch.tensor([timestep], { dtype: 'f32' }).to(sample.device) : timestep.reshape([-1]);
      const tEmb = this.time_proj.forward(t.numel === b ? t : t.expand([b])).to(sample.dtype);
      let emb = this.time_embedding.forward(tEmb);
      const timeEmbeds = this.add_time_proj.forward(addedTimeIds.flatten()).reshape([b, -1]).to(emb.dtype);
      emb = emb.add(this.add_embedding.forward(timeEmbeds));
      // frames flattened into the batch; embeddings and encoder states repeated per frame
      emb = emb.repeatInterleave(f, 0);
      const context = encoderHiddenStates.repeatInterleave(f, 0);
      const frames: FrameLayout = { numFrames: f, imageOnlyIndicator: opts.imageOnlyIndicator };

      // 2. pre-process (+ StableAnimator's pose latents)
      let h = this.conv_in.forward(sample.flatten(0, 1));
      if (opts.poseLatents) h = h.add(opts.poseLatents);

      // 3. down
      const skips: Tensor[] = [h];
      for (const block of this.down_blocks) {
        const [out, states] = block.forward(h, emb, context, frames);
        skips.push(...states);
        h = out;
      }

      // 4. mid
      const mid = this.mid_block.forward(h, emb, context, frames);
      h = mid;

      // 5. up, each block taking as many skip states as it has resnets; the upsampled size follows
      // the skip states so that sizes not divisible by 2^(levels−1) still line up
      const blocks = [...this.up_blocks];
      blocks.forEach((block, i) => {
        const n = block.resnets.length;
        const own = skips.splice(skips.length - n, n);
        const upsampleSize = i < blocks.length - 1 ? skips[skips.length - 1].shape.slice(2) : undefined;
        const out = block.forward(h, own, emb, context, frames, upsampleSize);
        if (h !== mid) h.dispose();
        for (const s of own) s.dispose();
        h = out;
      });
      mid.dispose();

      // 6. post-process
      const out = this.conv_out.forward(this.conv_norm_out.forward(h).silu());
      // 7. back to [B, F, C, H, W]
      return out.view([b, f, out.size(1), height, width]);
    });
  }

  /** Checkpoints every resnet and transformer of the down, mid and up blocks while a graph is recorded. */
  enableGradientCheckpointing(on = true): this {
    for (const block of [...this.down_blocks, this.mid_block, ...this.up_blocks]) block.gradientCheckpointing = on;
    return this;
  }

  /**
   * The spatial cross-attention layers (`...attentions.N.transformer_blocks.M.attn2`), where
   * StableAnimator's ID-Adapter processors go (16 in SVD-xt), by state-dict name.
   */
  spatialCrossAttentions(): [string, Attention][] {
    const out: [string, Attention][] = [];
    for (const [name, m] of this.modules()) {
      if (/(^|\.)transformer_blocks\.\d+\.attn2$/.test(name)) out.push([name, m as Attention]);
    }
    return out;
  }

  /**
   * Sets the processor of every spatial attn2 (undefined from the factory keeps plain attention).
   * Returns how many were set.
   */
  setSpatialCrossAttentionProcessors(factory: (attn: Attention, name: string) => AttentionProcessor | undefined): number {
    let n = 0;
    for (const [name, attn] of this.spatialCrossAttentions()) {
      const p = factory(attn, name);
      attn.setProcessor(p);
      if (p) n++;
    }
    return n;
  }

  /** Bounds the transient attention scores and feed-forward intermediates (same results, less memory). */
  setMemoryLimits(limits: MemoryLimits): this {
    setMemoryLimits(this, limits);
    return this;
  }
}

// diffusers' `SpatioTemporalResBlock`: a per-frame ResnetBlock2D, then a TemporalResnetBlock across
// frames, blended by a learned AlphaBlender (time_mixer). Frames of a video are consecutive in the
// batch: x [B·F, C, H, W].
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { AlphaBlender, type MergeStrategy } from './alpha-blender.ts';
import { ResnetBlock2D } from './resnet-block.ts';
import { TemporalResnetBlock } from './temporal-resnet-block.ts';

/** How the frames of a batch are grouped into videos. */
export interface FrameLayout {
  numFrames: number;
  /**
   * [B, F], 1 where a frame is a still image (its temporal mixing is switched off by
   * 'learned_with_images'); undefined means all zeros, as the UNet builds it.
   */
  imageOnlyIndicator?: Tensor;
}

export interface SpatioTemporalResBlockOptions {
  tembChannels?: number;
  eps?: number;
  /** Epsilon of the temporal block's GroupNorms; defaults to eps. */
  temporalEps?: number;
  mergeFactor?: number;
  mergeStrategy?: MergeStrategy;
  switchSpatialToTemporalMix?: boolean;
  /** GroupNorm groups of both blocks (32, as SVD). */
  groups?: number;
}

export class SpatioTemporalResBlock extends nn.Module {
  spatial_res_block: ResnetBlock2D;
  temporal_res_block: TemporalResnetBlock;
  time_mixer: AlphaBlender;

  constructor(inChannels: number, outChannels: number, opts: SpatioTemporalResBlockOptions = {}) {
    super();
    const eps = opts.eps ?? 1e-6;
    this.spatial_res_block = new ResnetBlock2D(inChannels, outChannels, { tembChannels: opts.tembChannels, eps, groups: opts.groups });
    this.temporal_res_block = new TemporalResnetBlock(outChannels, outChannels, opts.tembChannels, opts.temporalEps ?? eps, opts.groups);
    this.time_mixer = new AlphaBlender(opts.mergeFactor ?? 0.5, opts.mergeStrategy ?? 'learned_with_images', opts.switchSpatialToTemporalMix ?? false);
  }

  /** x [B·F, C, H, W], temb [B·F, tembChannels] -> [B·F, outChannels, H, W]. */
  forward(x: Tensor, temb: Tensor | undefined, frames: FrameLayout): Tensor {
    return torch.scope(() => {
      const spatial = this.spatial_res_block.forward(x, temb);
      const [bf, c, h, w] = spatial.shape;
      const f = frames.numFrames;
      if (bf % f) throw new Error(`SpatioTemporalResBlock: batch ${bf} is not a multiple of ${f} frames`);
      const b = bf / f;
      // [B, F, C, H, W] is a view of the spatial result; the temporal block works on [B, C, F, H, W]
      const spatial5 = spatial.view([b, f, c, h, w]);
      const temporal = this.temporal_res_block.forward(spatial5.transpose(1, 2), temb?.view([b, f, -1]));
      let weight = this.time_mixer.temporalWeight(frames.imageOnlyIndicator);
      if (weight.ndim === 2) weight = weight.view([b, f, 1, 1, 1]);
      return this.time_mixer.forward(spatial5, temporal.transpose(1, 2), weight).reshape([bf, c, h, w]);
    });
  }
}

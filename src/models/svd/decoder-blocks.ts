// The temporal VAE decoder's blocks (diffusers `MidBlockTemporalDecoder`, `UpBlockTemporalDecoder`):
// SpatioTemporalResBlocks without a time embedding (eps 1e-6, temporal eps 1e-5, 'learned' mixing with
// the spatial/temporal roles switched, mix_factor initially 0), one self-attention in the mid block.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { Attention } from './attention.ts';
import { checkpointed } from './checkpointing.ts';
import { SpatioTemporalResBlock, type FrameLayout } from './spatio-temporal-res-block.ts';
import { Upsample2D } from './upsample.ts';

function decoderResBlock(inChannels: number, outChannels: number, groups: number): SpatioTemporalResBlock {
  return new SpatioTemporalResBlock(inChannels, outChannels, {
    eps: 1e-6, temporalEps: 1e-5, mergeFactor: 0, mergeStrategy: 'learned', switchSpatialToTemporalMix: true, groups,
  });
}

export class MidBlockTemporalDecoder extends nn.Module {
  attentions: nn.ModuleList<Attention>;
  resnets: nn.ModuleList<SpatioTemporalResBlock>;

  /**
   * numLayers resnets and always one attention, which runs between resnets 0 and 1 (so with a single
   * resnet it exists in the state dict but is never used: diffusers' behaviour).
   */
  constructor(inChannels: number, outChannels: number, opts: { numLayers: number; attentionHeadDim: number; groups?: number }) {
    super();
    this.attentions = new nn.ModuleList([new Attention({
      query_dim: inChannels, heads: inChannels / opts.attentionHeadDim, dim_head: opts.attentionHeadDim,
      eps: 1e-6, norm_num_groups: opts.groups ?? 32, bias: true, residual_connection: true,
    })]);
    this.resnets = new nn.ModuleList(Array.from({ length: opts.numLayers }, (_, i) => decoderResBlock(i === 0 ? inChannels : outChannels, outChannels, opts.groups ?? 32)));
  }

  forward(x: Tensor, frames: FrameLayout): Tensor {
    return torch.scope(() => {
      const resnets = [...this.resnets];
      const attentions = [...this.attentions];
      let h = resnets[0].forward(x, undefined, frames);
      for (let i = 1; i < resnets.length && i - 1 < attentions.length; i++) {
        h = attentions[i - 1].forward(h);
        h = resnets[i].forward(h, undefined, frames);
      }
      return h;
    });
  }
}

export class UpBlockTemporalDecoder extends nn.Module {
  resnets: nn.ModuleList<SpatioTemporalResBlock>;
  upsamplers?: nn.ModuleList<Upsample2D>;

  constructor(inChannels: number, outChannels: number, opts: { numLayers: number; addUpsample: boolean; groups?: number }) {
    super();
    this.resnets = new nn.ModuleList(Array.from({ length: opts.numLayers }, (_, i) => decoderResBlock(i === 0 ? inChannels : outChannels, outChannels, opts.groups ?? 32)));
    if (opts.addUpsample) this.upsamplers = new nn.ModuleList([new Upsample2D(outChannels)]);
  }

  forward(x: Tensor, frames: FrameLayout): Tensor {
    return torch.scope(() => {
      let h = x;
      for (const resnet of this.resnets) h = resnet.forward(h, undefined, frames);
      if (this.upsamplers) for (const up of this.upsamplers) h = up.forward(h);
      return h;
    });
  }
}

/** A decoder block call, checkpointed as a whole when enabled (diffusers' TemporalDecoder granularity). */
export function decoderStep(enabled: boolean, block: MidBlockTemporalDecoder | UpBlockTemporalDecoder, x: Tensor, frames: FrameLayout): Tensor {
  return checkpointed(enabled, block, ([h, ind]) => block.forward(h!, { numFrames: frames.numFrames, imageOnlyIndicator: ind }), [x, frames.imageOnlyIndicator]);
}

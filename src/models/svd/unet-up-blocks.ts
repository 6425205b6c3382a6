// The SVD UNet's up blocks: `UpBlockSpatioTemporal` and `CrossAttnUpBlockSpatioTemporal`. Each layer
// concatenates the latest skip state on channels before its resnet; an optional Upsample2D follows.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { resnetStep, transformerStep } from './block-steps.ts';
import { SpatioTemporalResBlock, type FrameLayout } from './spatio-temporal-res-block.ts';
import { TransformerSpatioTemporalModel } from './transformer-spatio-temporal.ts';
import { Upsample2D } from './upsample.ts';

export interface UpBlockOptions {
  inChannels: number;
  prevOutputChannels: number;
  outChannels: number;
  tembChannels: number;
  numLayers: number;
  addUpsample: boolean;
  resnetEps: number;
}

export interface CrossAttnUpBlockOptions extends UpBlockOptions {
  transformerLayers: number[];
  numAttentionHeads: number;
  crossAttentionDim: number;
  numFaceTokens?: number;
}

function makeResnets(o: UpBlockOptions): nn.ModuleList<SpatioTemporalResBlock> {
  return new nn.ModuleList(Array.from({ length: o.numLayers }, (_, i) => {
    const skip = i === o.numLayers - 1 ? o.inChannels : o.outChannels;
    const input = i === 0 ? o.prevOutputChannels : o.outChannels;
    return new SpatioTemporalResBlock(input + skip, o.outChannels, { tembChannels: o.tembChannels, eps: o.resnetEps });
  }));
}

/** Pops the skip state for each layer (last first) and concatenates it to the channels. */
function withSkip(h: Tensor, skips: Tensor[]): Tensor {
  const skip = skips.pop();
  if (!skip) throw new Error('UNet up block: ran out of skip connections');
  return torch.cat([h, skip], 1);
}

export class UpBlockSpatioTemporal extends nn.Module {
  resnets: nn.ModuleList<SpatioTemporalResBlock>;
  upsamplers?: nn.ModuleList<Upsample2D>;
  gradientCheckpointing = false;
  readonly hasCrossAttention = false;

  constructor(o: UpBlockOptions) {
    super();
    this.resnets = makeResnets(o);
    if (o.addUpsample) this.upsamplers = new nn.ModuleList([new Upsample2D(o.outChannels)]);
  }

  /** skips: this block's skip states in down order (consumed from the end); upsampleSize forces the ×2 size. */
  forward(x: Tensor, skips: Tensor[], temb: Tensor, _encoderHiddenStates: Tensor | undefined, frames: FrameLayout, upsampleSize?: number[]): Tensor {
    return torch.scope(() => {
      const pending = [...skips];
      let h = x;
      for (const resnet of this.resnets) {
        const joined = withSkip(h, pending);
        h = resnetStep(this.gradientCheckpointing, resnet, joined, temb, frames);
        joined.dispose();
      }
      if (this.upsamplers) for (const up of this.upsamplers) h = up.forward(h, upsampleSize);
      return h;
    });
  }
}

export class CrossAttnUpBlockSpatioTemporal extends nn.Module {
  attentions: nn.ModuleList<TransformerSpatioTemporalModel>;
  resnets: nn.ModuleList<SpatioTemporalResBlock>;
  upsamplers?: nn.ModuleList<Upsample2D>;
  gradientCheckpointing = false;
  readonly hasCrossAttention = true;

  constructor(o: CrossAttnUpBlockOptions) {
    super();
    const heads = o.numAttentionHeads;
    this.attentions = new nn.ModuleList(Array.from({ length: o.numLayers }, (_, i) =>
      new TransformerSpatioTemporalModel(heads, o.outChannels / heads, o.outChannels, {
        numLayers: o.transformerLayers[i], crossAttentionDim: o.crossAttentionDim, numFaceTokens: o.numFaceTokens,
      })));
    this.resnets = makeResnets(o);
    if (o.addUpsample) this.upsamplers = new nn.ModuleList([new Upsample2D(o.outChannels)]);
  }

  forward(x: Tensor, skips: Tensor[], temb: Tensor, encoderHiddenStates: Tensor | undefined, frames: FrameLayout, upsampleSize?: number[]): Tensor {
    if (!encoderHiddenStates) throw new Error('CrossAttnUpBlockSpatioTemporal: encoderHiddenStates are required');
    return torch.scope(() => {
      const pending = [...skips];
      const attentions = [...this.attentions];
      let h = x;
      [...this.resnets].forEach((resnet, i) => {
        const joined = withSkip(h, pending);
        const r = resnetStep(this.gradientCheckpointing, resnet, joined, temb, frames);
        joined.dispose();
        h = transformerStep(this.gradientCheckpointing, attentions[i], r, encoderHiddenStates, frames);
        r.dispose();
      });
      if (this.upsamplers) for (const up of this.upsamplers) h = up.forward(h, upsampleSize);
      return h;
    });
  }
}

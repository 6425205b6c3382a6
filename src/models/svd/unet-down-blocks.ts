// The SVD UNet's down blocks: `DownBlockSpatioTemporal` (resnets only) and
// `CrossAttnDownBlockSpatioTemporal` (each resnet followed by a spatio-temporal transformer), both
// ending in an optional stride-2 Downsample2D. They return the output and every intermediate state
// for the skip connections.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { resnetStep, transformerStep } from './block-steps.ts';
import { Downsample2D } from './downsample.ts';
import { SpatioTemporalResBlock, type FrameLayout } from './spatio-temporal-res-block.ts';
import { TransformerSpatioTemporalModel } from './transformer-spatio-temporal.ts';

export interface DownBlockOptions {
  inChannels: number;
  outChannels: number;
  tembChannels: number;
  numLayers: number;
  addDownsample: boolean;
  resnetEps: number;
}

export interface CrossAttnDownBlockOptions extends DownBlockOptions {
  transformerLayers: number[];
  numAttentionHeads: number;
  crossAttentionDim: number;
  numFaceTokens?: number;
}

export type DownBlockResult = [Tensor, Tensor[]];

export class DownBlockSpatioTemporal extends nn.Module {
  resnets: nn.ModuleList<SpatioTemporalResBlock>;
  downsamplers?: nn.ModuleList<Downsample2D>;
  gradientCheckpointing = false;
  readonly hasCrossAttention = false;

  constructor(o: DownBlockOptions) {
    super();
    this.resnets = new nn.ModuleList(Array.from({ length: o.numLayers }, (_, i) =>
      new SpatioTemporalResBlock(i === 0 ? o.inChannels : o.outChannels, o.outChannels, { tembChannels: o.tembChannels, eps: o.resnetEps })));
    if (o.addDownsample) this.downsamplers = new nn.ModuleList([new Downsample2D(o.outChannels, o.outChannels, 1)]);
  }

  forward(x: Tensor, temb: Tensor, _encoderHiddenStates: Tensor | undefined, frames: FrameLayout): DownBlockResult {
    return torch.scope(() => {
      const states: Tensor[] = [];
      let h = x;
      for (const resnet of this.resnets) states.push(h = resnetStep(this.gradientCheckpointing, resnet, h, temb, frames));
      if (this.downsamplers) for (const down of this.downsamplers) states.push(h = down.forward(h));
      return [h, states] as DownBlockResult;
    });
  }
}

export class CrossAttnDownBlockSpatioTemporal extends nn.Module {
  attentions: nn.ModuleList<TransformerSpatioTemporalModel>;
  resnets: nn.ModuleList<SpatioTemporalResBlock>;
  downsamplers?: nn.ModuleList<Downsample2D>;
  gradientCheckpointing = false;
  readonly hasCrossAttention = true;

  constructor(o: CrossAttnDownBlockOptions) {
    super();
    const heads = o.numAttentionHeads;
    this.attentions = new nn.ModuleList(Array.from({ length: o.numLayers }, (_, i) =>
      new TransformerSpatioTemporalModel(heads, o.outChannels / heads, o.outChannels, {
        numLayers: o.transformerLayers[i], crossAttentionDim: o.crossAttentionDim, numFaceTokens: o.numFaceTokens,
      })));
    this.resnets = new nn.ModuleList(Array.from({ length: o.numLayers }, (_, i) =>
      new SpatioTemporalResBlock(i === 0 ? o.inChannels : o.outChannels, o.outChannels, { tembChannels: o.tembChannels, eps: o.resnetEps })));
    if (o.addDownsample) this.downsamplers = new nn.ModuleList([new Downsample2D(o.outChannels, o.outChannels, 1)]);
  }

  forward(x: Tensor, temb: Tensor, encoderHiddenStates: Tensor | undefined, frames: FrameLayout): DownBlockResult {
    if (!encoderHiddenStates) throw new Error('CrossAttnDownBlockSpatioTemporal: encoderHiddenStates are required');
    return torch.scope(() => {
      const states: Tensor[] = [];
      let h = x;
      const attentions = [...this.attentions];
      [...this.resnets].forEach((resnet, i) => {
        const r = resnetStep(this.gradientCheckpointing, resnet, h, temb, frames);
        h = transformerStep(this.gradientCheckpointing, attentions[i], r, encoderHiddenStates, frames);
        r.dispose();
        states.push(h);
      });
      if (this.downsamplers) for (const down of this.downsamplers) states.push(h = down.forward(h));
      return [h, states] as DownBlockResult;
    });
  }
}

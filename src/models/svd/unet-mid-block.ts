// `UNetMidBlockSpatioTemporal`: resnet, then (transformer, resnet) per layer, at the lowest resolution.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { resnetStep, transformerStep } from './block-steps.ts';
import { SpatioTemporalResBlock, type FrameLayout } from './spatio-temporal-res-block.ts';
import { TransformerSpatioTemporalModel } from './transformer-spatio-temporal.ts';

export interface MidBlockOptions {
  channels: number;
  tembChannels: number;
  numLayers?: number;
  transformerLayers: number[];
  numAttentionHeads: number;
  crossAttentionDim: number;
  numFaceTokens?: number;
}

export class UNetMidBlockSpatioTemporal extends nn.Module {
  attentions: nn.ModuleList<TransformerSpatioTemporalModel>;
  resnets: nn.ModuleList<SpatioTemporalResBlock>;
  gradientCheckpointing = false;

  constructor(o: MidBlockOptions) {
    super();
    const layers = o.numLayers ?? 1;
    const c = o.channels;
    const heads = o.numAttentionHeads;
    this.attentions = new nn.ModuleList(Array.from({ length: layers }, (_, i) =>
      new TransformerSpatioTemporalModel(heads, c / heads, c, {
        numLayers: o.transformerLayers[i], crossAttentionDim: o.crossAttentionDim, numFaceTokens: o.numFaceTokens,
      })));
    this.resnets = new nn.ModuleList(Array.from({ length: layers + 1 }, () =>
      new SpatioTemporalResBlock(c, c, { tembChannels: o.tembChannels, eps: 1e-5 })));
  }

  forward(x: Tensor, temb: Tensor, encoderHiddenStates: Tensor, frames: FrameLayout): Tensor {
    return torch.scope(() => {
      const resnets = [...this.resnets];
      let h = resnetStep(this.gradientCheckpointing, resnets[0], x, temb, frames);
      [...this.attentions].forEach((attn, i) => {
        const a = transformerStep(this.gradientCheckpointing, attn, h, encoderHiddenStates, frames);
        h.dispose();
        h = resnetStep(this.gradientCheckpointing, resnets[i + 1], a, temb, frames);
        a.dispose();
      });
      return h;
    });
  }
}

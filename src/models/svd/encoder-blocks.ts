// The 2-D blocks of the VAE encoder: diffusers' `DownEncoderBlock2D` (resnets without a time
// embedding, then a stride-2 conv on a bottom/right zero-padded input) and `UNetMidBlock2D`
// (resnet, then (self-attention with group norm and residual, resnet) per layer).
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { Attention } from './attention.ts';
import { Downsample2D } from './downsample.ts';
import { ResnetBlock2D } from './resnet-block.ts';

export class DownEncoderBlock2D extends nn.Module {
  resnets: nn.ModuleList<ResnetBlock2D>;
  downsamplers?: nn.ModuleList<Downsample2D>;

  constructor(inChannels: number, outChannels: number, opts: { numLayers: number; addDownsample: boolean; eps?: number; groups?: number }) {
    super();
    const eps = opts.eps ?? 1e-6;
    this.resnets = new nn.ModuleList(Array.from({ length: opts.numLayers }, (_, i) =>
      new ResnetBlock2D(i === 0 ? inChannels : outChannels, outChannels, { eps, groups: opts.groups })));
    if (opts.addDownsample) this.downsamplers = new nn.ModuleList([new Downsample2D(outChannels, outChannels, 0)]);
  }

  forward(x: Tensor): Tensor {
    return torch.scope(() => {
      let h = x;
      for (const resnet of this.resnets) h = resnet.forward(h);
      if (this.downsamplers) for (const down of this.downsamplers) h = down.forward(h);
      return h;
    });
  }
}

export class UNetMidBlock2D extends nn.Module {
  attentions: nn.ModuleList<Attention>;
  resnets: nn.ModuleList<ResnetBlock2D>;

  /** attentionHeadDim = channels gives one head (the VAE); addAttention false leaves only the resnets. */
  constructor(channels: number, opts: { eps?: number; groups?: number; numLayers?: number; attentionHeadDim?: number; addAttention?: boolean } = {}) {
    super();
    const eps = opts.eps ?? 1e-6;
    const groups = opts.groups ?? 32;
    const layers = opts.numLayers ?? 1;
    const headDim = opts.attentionHeadDim ?? channels;
    this.attentions = new nn.ModuleList(opts.addAttention === false ? [] : Array.from({ length: layers }, () => new Attention({
      query_dim: channels, heads: channels / headDim, dim_head: headDim, bias: true, norm_num_groups: groups, eps, residual_connection: true,
    })));
    this.resnets = new nn.ModuleList(Array.from({ length: layers + 1 }, () => new ResnetBlock2D(channels, channels, { eps, groups })));
  }

  forward(x: Tensor): Tensor {
    return torch.scope(() => {
      const resnets = [...this.resnets];
      const attentions = [...this.attentions];
      let h = resnets[0].forward(x);
      for (let i = 1; i < resnets.length; i++) {
        if (attentions[i - 1]) h = attentions[i - 1].forward(h);
        h = resnets[i].forward(h);
      }
      return h;
    });
  }
}

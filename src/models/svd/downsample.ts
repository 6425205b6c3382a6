// diffusers' `Downsample2D` with use_conv: a stride-2 3×3 conv (`conv`). With padding 0 (the VAE
// encoder) the input is first padded by one zero row/column at the bottom/right, as diffusers does.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';

export class Downsample2D extends nn.Module {
  conv: nn.Conv2d;
  constructor(channels: number, outChannels = channels, readonly padding = 1) {
    super();
    this.conv = new nn.Conv2d(channels, outChannels, 3, { stride: 2, padding });
  }
  forward(x: Tensor): Tensor {
    if (this.padding !== 0) return this.conv.forward(x);
    return torch.scope(() => this.conv.forward(x.pad([0, 1, 0, 1], 'constant', 0)));
  }
}

// diffusers' `Upsample2D` with use_conv: nearest-neighbour ×2 (or to an explicit size) then a 3×3 conv.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';

export class Upsample2D extends nn.Module {
  conv: nn.Conv2d;
  constructor(channels: number, outChannels = channels) {
    super();
    this.conv = new nn.Conv2d(channels, outChannels, 3, { padding: 1 });
  }
  /** outputSize [H, W] forces the interpolation size (odd skip-connection sizes); default ×2. */
  forward(x: Tensor, outputSize?: number[]): Tensor {
    return torch.scope(() => {
      // bf16 nearest upsampling is not supported everywhere: diffusers goes through f32 as well
      const input = x.dtype === 'bf16' ? x.float() : x;
      let up = outputSize ? torch.interpolateNearest(input, outputSize) : torch.interpolateNearest(input, undefined, [2, 2]);
      if (input !== x) up = up.to(x.dtype);
      return this.conv.forward(up);
    });
  }
}

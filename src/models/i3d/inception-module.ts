// pytorch-i3d's InceptionModule (Mixed_3b ... Mixed_5c): four branches concatenated over channels,
//   b0: 1x1x1;  b1a 1x1x1 -> b1b 3x3x3;  b2a 1x1x1 -> b2b 3x3x3;  b3a SAME max-pool 3x3x3 -> b3b 1x1x1.
// `out` lists the six widths in pytorch-i3d's order [b0, b1a, b1b, b2a, b2b, b3b].

import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { maxPool3dSame } from './same-padding.ts';
import { Unit3D } from './unit3d.ts';

export type InceptionWidths = [number, number, number, number, number, number];

/** Channels out of a module: the four branch outputs. */
export const inceptionOutChannels = (w: InceptionWidths) => w[0] + w[2] + w[4] + w[5];

export class InceptionModule extends nn.Module {
  b0: Unit3D;
  b1a: Unit3D;
  b1b: Unit3D;
  b2a: Unit3D;
  b2b: Unit3D;
  b3b: Unit3D;

  constructor(inChannels: number, out: InceptionWidths, bnEps: number) {
    super();
    this.b0 = new Unit3D(inChannels, out[0], { bnEps });
    this.b1a = new Unit3D(inChannels, out[1], { bnEps });
    this.b1b = new Unit3D(out[1], out[2], { kernel: [3, 3, 3], bnEps });
    this.b2a = new Unit3D(inChannels, out[3], { bnEps });
    this.b2b = new Unit3D(out[3], out[4], { kernel: [3, 3, 3], bnEps });
    this.b3b = new Unit3D(inChannels, out[5], { bnEps });
  }

  forward(x: Tensor): Tensor {
    return torch.scope(() => torch.cat([
      this.b0.forward(x),
      this.b1b.forward(this.b1a.forward(x)),
      this.b2b.forward(this.b2a.forward(x)),
      this.b3b.forward(maxPool3dSame(x, [3, 3, 3], [1, 1, 1])),
    ], 1));
  }
}

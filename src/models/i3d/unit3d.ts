// pytorch-i3d's Unit3D: SAME-padded Conv3d (no bias unless asked), BatchNorm3d, ReLU. Child names
// `conv3d` and `bn` give the checkpoint's keys (`Mixed_3b.b0.conv3d.weight`, `...bn.running_mean`).

import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { padSame, type Triple } from './same-padding.ts';

export interface Unit3DOptions {
  kernel?: Triple;
  stride?: Triple;
  /** false: no BatchNorm (the logits layer). */
  batchNorm?: boolean;
  bias?: boolean;
  relu?: boolean;
  /** BatchNorm epsilon (pytorch-i3d 1e-3). */
  bnEps?: number;
}

export class Unit3D extends nn.Module {
  conv3d: nn.Conv3d;
  bn?: nn.BatchNorm;
  private readonly kernel: Triple;
  private readonly stride: Triple;
  private readonly relu: boolean;

  constructor(inChannels: number, outChannels: number, opts: Unit3DOptions = {}) {
    super();
    this.kernel = opts.kernel ?? [1, 1, 1];
    this.stride = opts.stride ?? [1, 1, 1];
    this.relu = opts.relu ?? true;
    // padding 0 here: SAME padding depends on the input size and is applied in forward
    this.conv3d = new nn.Conv3d(inChannels, outChannels, this.kernel, { stride: this.stride, bias: opts.bias ?? false });
    if (opts.batchNorm ?? true) this.bn = new nn.BatchNorm(outChannels, opts.bnEps ?? 1e-3, 0.01);
  }

  forward(x: Tensor): Tensor {
    let y = this.conv3d.forward(padSame(x, this.kernel, this.stride));
    if (this.bn) y = this.bn.forward(y);
    return this.relu ? y.relu() : y;
  }
}

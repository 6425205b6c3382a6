import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import { defaultWeight } from './init.ts';
import { Module, parameter } from './module.ts';

type Size = number | number[];

export interface ConvOptions {
  stride?: Size;
  padding?: Size;
  dilation?: Size;
  groups?: number;
  bias?: boolean;
}

const expand = (s: Size, n: number) => (Array.isArray(s) ? s : Array(n).fill(s));

/** Conv1d/2d/3d by spatial rank. */
export class ConvNd extends Module {
  weight: Tensor;
  bias?: Tensor;
  readonly stride: number[];
  readonly padding: number[];
  readonly dilation: number[];
  readonly groups: number;

  constructor(readonly rank: 1 | 2 | 3, readonly inChannels: number, readonly outChannels: number, kernel: Size, opts: ConvOptions = {}) {
    super();
    const k = expand(kernel, rank);
    this.stride = expand(opts.stride ?? 1, rank);
    this.padding = expand(opts.padding ?? 0, rank);
    this.dilation = expand(opts.dilation ?? 1, rank);
    this.groups = opts.groups ?? 1;
    if (inChannels % this.groups || outChannels % this.groups) {
      throw new Error(`Conv${rank}d: channels ${inChannels}->${outChannels} not divisible by groups ${this.groups}`);
    }
    const fanIn = (inChannels / this.groups) * k.reduce((a, b) => a * b, 1);
    this.weight = parameter(defaultWeight([outChannels, inChannels / this.groups, ...k], fanIn));
    if (opts.bias ?? true) this.bias = parameter(defaultWeight([outChannels], fanIn));
  }

  forward(x: Tensor): Tensor {
    const conv = this.rank === 1 ? torch.conv1d : this.rank === 2 ? torch.conv2d : torch.conv3d;
    return conv(x, this.weight, this.bias, this.stride, this.padding, this.dilation, this.groups);
  }
}

export class Conv1d extends ConvNd {
  constructor(inC: number, outC: number, kernel: Size, opts: ConvOptions = {}) { super(1, inC, outC, kernel, opts); }
}
export class Conv2d extends ConvNd {
  constructor(inC: number, outC: number, kernel: Size, opts: ConvOptions = {}) { super(2, inC, outC, kernel, opts); }
}
export class Conv3d extends ConvNd {
  constructor(inC: number, outC: number, kernel: Size, opts: ConvOptions = {}) { super(3, inC, outC, kernel, opts); }
}

export class ConvTranspose2d extends Module {
  weight: Tensor;
  bias?: Tensor;
  readonly stride: number[];
  readonly padding: number[];
  readonly outputPadding: number[];
  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Size,
    opts: { stride?: Size; padding?: Size; outputPadding?: Size; bias?: boolean } = {}) {
    super();
    const k = expand(kernel, 2);
    this.stride = expand(opts.stride ?? 1, 2);
    this.padding = expand(opts.padding ?? 0, 2);
    this.outputPadding = expand(opts.outputPadding ?? 0, 2);
    // PyTorch computes fan_in from weight dim 1 (out channels) for transposed convs
    const fanIn = outChannels * k[0] * k[1];
    this.weight = parameter(defaultWeight([inChannels, outChannels, ...k], fanIn));
    if (opts.bias ?? true) this.bias = parameter(defaultWeight([outChannels], fanIn));
  }
  forward(x: Tensor): Tensor {
    return torch.convTranspose2d(x, this.weight, this.bias, this.stride, this.padding, this.outputPadding);
  }
}

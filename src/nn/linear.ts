import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import { defaultWeight } from './init.ts';
import { Module, parameter } from './module.ts';

export class Linear extends Module {
  weight: Tensor;
  bias?: Tensor;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    this.weight = parameter(defaultWeight([outFeatures, inFeatures], inFeatures));
    if (opts.bias ?? true) this.bias = parameter(defaultWeight([outFeatures], inFeatures));
  }
  forward(x: Tensor): Tensor {
    return torch.linear(x, this.weight, this.bias);
  }
}

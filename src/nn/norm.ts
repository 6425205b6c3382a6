import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import { constant, integerZeros } from './init.ts';
import { buffer, Module, parameter } from './module.ts';

/**
 * Under autocast (or with bf16 weights and f32 activations) the input and the weights can differ in dtype,
 * which aten's norms refuse: normalise in f32 and return the input's dtype, as PyTorch's mixed-dtype norms do.
 */
function sameDtype(x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, run: (x: Tensor, w?: Tensor, b?: Tensor) => Tensor): Tensor {
  if (!weight || weight.dtype === x.dtype) return run(x, weight, bias);
  return torch.scope(() => run(x.to('f32'), weight.to('f32'), bias?.to('f32')).to(x.dtype));
}

export class GroupNorm extends Module {
  weight?: Tensor;
  bias?: Tensor;
  constructor(readonly numGroups: number, readonly numChannels: number, readonly eps = 1e-5, affine = true) {
    super();
    if (numChannels % numGroups) throw new Error(`GroupNorm: ${numChannels} channels not divisible by ${numGroups} groups`);
    if (affine) {
      this.weight = parameter(constant([numChannels], 1));
      this.bias = parameter(constant([numChannels], 0));
    }
  }
  forward(x: Tensor): Tensor {
    return sameDtype(x, this.weight, this.bias, (h, w, b) => torch.groupNorm(h, this.numGroups, w, b, this.eps));
  }
}

export class LayerNorm extends Module {
  weight?: Tensor;
  bias?: Tensor;
  readonly shape: number[];
  constructor(shape: number | number[], readonly eps = 1e-5, opts: { affine?: boolean; bias?: boolean } = {}) {
    super();
    this.shape = Array.isArray(shape) ? shape : [shape];
    if (opts.affine ?? true) {
      this.weight = parameter(constant(this.shape, 1));
      if (opts.bias ?? true) this.bias = parameter(constant(this.shape, 0));
    }
  }
  forward(x: Tensor): Tensor {
    return sameDtype(x, this.weight, this.bias, (h, w, b) => torch.layerNorm(h, this.shape, w, b, this.eps));
  }
}

/** BatchNorm over dim 1 (1d/2d/3d inputs alike); running statistics are buffers. */
export class BatchNorm extends Module {
  weight: Tensor;
  bias: Tensor;
  running_mean: Tensor;
  running_var: Tensor;
  num_batches_tracked: Tensor;
  constructor(readonly numFeatures: number, readonly eps = 1e-5, readonly momentum = 0.1) {
    super();
    this.weight = parameter(constant([numFeatures], 1));
    this.bias = parameter(constant([numFeatures], 0));
    this.running_mean = buffer(constant([numFeatures], 0));
    this.running_var = buffer(constant([numFeatures], 1));
    this.num_batches_tracked = buffer(integerZeros([]));
  }
  forward(x: Tensor): Tensor {
    return torch.batchNorm(x, this.weight, this.bias, this.running_mean, this.running_var, this.training, this.momentum, this.eps, false);
  }
}

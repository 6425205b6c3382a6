// Parameter initialisation. Construction happens inside an init context that says where and how:
// real tensors with PyTorch's default initialisers, or 'meta' tensors (no memory) that loading a
// checkpoint replaces one by one, so a multi-GB model never exists twice.
import * as torch from '../torch/index.ts';
import type { Device, DType, Tensor } from '../torch/index.ts';

interface InitContext {
  device: Device | 'meta';
  dtype: DType;
  generator: torch.Generator;
}

let ctx: InitContext = { device: 'cpu', dtype: 'f32', generator: new torch.Generator(0) };

/** Builds modules with the given device/dtype/seed; `device: 'meta'` allocates nothing (load with assign). */
export function withInit<T>(opts: { device?: Device | 'meta'; dtype?: DType; seed?: number }, fn: () => T): T {
  const prev = ctx;
  ctx = {
    device: opts.device ?? prev.device,
    dtype: opts.dtype ?? prev.dtype,
    generator: opts.seed !== undefined ? new torch.Generator(opts.seed) : prev.generator,
  };
  try {
    return fn();
  } finally {
    ctx = prev;
  }
}

function make(shape: number[], fill: (t: Tensor) => void): Tensor {
  const t = torch.empty(shape, ctx.dtype, undefined, ctx.device as Device);
  if (ctx.device !== 'meta') torch.noGrad(() => fill(t));
  return t;
}

/** An integer buffer (e.g. BatchNorm's step counter) on the context's device, zero-filled. */
export function integerZeros(shape: number[]): Tensor {
  return torch.zeros(shape, 'i64', undefined, ctx.device as Device);
}

export function uniform(shape: number[], bound: number): Tensor {
  return make(shape, (t) => t.uniform_(-bound, bound, ctx.generator));
}

export function normal(shape: number[], std: number, mean = 0): Tensor {
  return make(shape, (t) => t.normal_(mean, std, ctx.generator));
}

export function constant(shape: number[], value: number): Tensor {
  return make(shape, (t) => t.fill_(value));
}

/** PyTorch's default for Linear/Conv weights: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function defaultWeight(shape: number[], fanIn: number): Tensor {
  return uniform(shape, 1 / Math.sqrt(fanIn));
}

// Grad-mode and autocast scopes, functional gradients and gradient checkpointing.
import { dtypeCode, type Device } from './codes.ts';
import type { DType } from './dtype.ts';
import { native, type Handle } from './native.ts';
import { Tensor, wrap } from './tensor.ts';

function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = native.setGradEnabled(on);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn without recording a graph (synchronous fn only: the mode is thread-global). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  const prev = native.setGradEnabled(true);
  native.setGradEnabled(prev);
  return prev;
}

/** d(outputs)/d(inputs), like torch.autograd.grad. Unused inputs give undefined when allowUnused. */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor[], opts: {
  gradOutputs?: (Tensor | undefined)[]; retainGraph?: boolean; createGraph?: boolean; allowUnused?: boolean;
} = {}): (Tensor | undefined)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const create = opts.createGraph ?? false;
  const res = native.autogradGrad(outs.map((t) => t.h), inputs.map((t) => t.h), opts.gradOutputs?.map((t) => t?.h),
    opts.retainGraph ?? create, create, opts.allowUnused ?? false);
  return res.map((h) => (h ? wrap(h) : undefined));
}

/** Backward through several outputs at once. */
export function backward(outputs: Tensor[], gradOutputs?: (Tensor | undefined)[], opts: { retainGraph?: boolean } = {}): void {
  native.backward(outputs.map((t) => t.h), gradOutputs?.map((t) => t?.h), opts.retainGraph ?? false, false);
}

/**
 * Gradient checkpointing: runs fn(inputs) without keeping its activations and runs it again during
 * backward. fn must be deterministic (no dropout) and synchronous; the recomputation runs on this thread.
 */
export function checkpoint(fn: (inputs: Tensor[]) => Tensor[], inputs: Tensor[]): Tensor[] {
  const outs = native.checkpoint((hs: Handle[]) => {
    const result = fn(hs.map((h) => new Tensor(h)));
    return result.map((t) => t.h);
  }, inputs.map((t) => t.h));
  return outs.map(wrap);
}

let cpuAutocast: DType | undefined;

/** Mixed precision: eligible ops (matmul, conv, linear, ...) run in `dtype` inside fn. */
export function autocast<T>(dtype: DType, fn: () => T, device: Device = 'cpu'): T {
  const type = device.startsWith('cuda') ? 'cuda' : 'cpu';
  const [prevOn, prevDtype] = native.setAutocast(type, true, dtypeCode(dtype)!);
  const prevCpu = cpuAutocast;
  if (type === 'cpu') cpuAutocast = dtype;
  try {
    return fn();
  } finally {
    native.setAutocast(type, prevOn, prevDtype);
    cpuAutocast = prevCpu;
  }
}

/** The dtype of the innermost CPU autocast scope, if any. */
export function cpuAutocastDtype(): DType | undefined {
  return cpuAutocast;
}

/** Runs fn with CPU autocast off (restored after). */
export function withoutCpuAutocast<T>(fn: () => T): T {
  if (!cpuAutocast) return fn();
  const [prevOn, prevDtype] = native.setAutocast('cpu', false, dtypeCode(cpuAutocast)!);
  const prevCpu = cpuAutocast;
  cpuAutocast = undefined;
  try {
    return fn();
  } finally {
    native.setAutocast('cpu', prevOn, prevDtype);
    cpuAutocast = prevCpu;
  }
}

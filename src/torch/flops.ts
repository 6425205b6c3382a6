// Counts the floating-point operations of the matrix ops (conv, linear, matmul family) that run
// inside fn, from the argument shapes: 2 per multiply-add. Elementwise ops are not counted.
import { native, type Handle } from './native.ts';

type Shape = number[];
const shapeOf = (h: unknown): Shape => native.meta(h as Handle).slice(3) as number[];
const prod = (s: Shape) => s.reduce((a, b) => a * b, 1);

function matmulFlops(a: Shape, b: Shape): number {
  if (a.length === 1 && b.length === 1) return 2 * a[0];
  const m = a.length === 1 ? 1 : a[a.length - 2];
  const k = a[a.length - 1];
  const n = b.length === 1 ? 1 : b[b.length - 1];
  const batchA = a.slice(0, -2), batchB = b.slice(0, -2);
  const batch = batchA.length >= batchB.length ? batchA.map((d, i) => Math.max(d, batchB[i - (batchA.length - batchB.length)] ?? 1))
    : batchB.map((d, i) => Math.max(d, batchA[i - (batchB.length - batchA.length)] ?? 1));
  return 2 * prod(batch) * m * n * k;
}

const COUNTERS: Record<string, (args: unknown[], out: unknown) => number> = {
  'aten::linear': ([x, w]) => 2 * (prod(shapeOf(x)) / shapeOf(w)[1]) * prod(shapeOf(w)),
  'aten::matmul': ([a, b]) => matmulFlops(shapeOf(a), shapeOf(b)),
  'aten::mm': ([a, b]) => matmulFlops(shapeOf(a), shapeOf(b)),
  'aten::bmm': ([a, b]) => matmulFlops(shapeOf(a), shapeOf(b)),
  'aten::baddbmm': ([, a, b]) => matmulFlops(shapeOf(a), shapeOf(b)),
  'aten::addmm': ([, a, b]) => matmulFlops(shapeOf(a), shapeOf(b)),
  // conv: 2 * output elements * (input channels per group * kernel elements)
  'aten::conv1d': ([, w], out) => 2 * prod(shapeOf(out)) * prod(shapeOf(w).slice(1)),
  'aten::conv2d': ([, w], out) => 2 * prod(shapeOf(out)) * prod(shapeOf(w).slice(1)),
  'aten::conv3d': ([, w], out) => 2 * prod(shapeOf(out)) * prod(shapeOf(w).slice(1)),
  'aten::conv_transpose2d': ([x, w]) => 2 * prod(shapeOf(x)) * prod(shapeOf(w).slice(1)),
};

/** Runs fn and returns its result with the FLOPs of the counted ops it called. */
export function countFlops<T>(fn: () => T): { result: T; flops: number } {
  const names = new Map<number, string>();
  const original = native.opCall;
  let flops = 0;
  native.opCall = (id: number, ...args: unknown[]) => {
    const out = original(id, ...args);
    let name = names.get(id);
    if (name === undefined) {
      name = native.opSchema(id).split('(')[0].split('.')[0];
      names.set(id, name);
    }
    const counter = COUNTERS[name];
    if (counter) flops += counter(args, out);
    return out;
  };
  try {
    return { result: fn(), flops };
  } finally {
    native.opCall = original;
  }
}

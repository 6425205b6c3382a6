// Deterministic freeing of native memory: scope(fn) disposes every tensor created inside fn
// except those it returns (like tf.tidy); keep(t) exempts a tensor from all scopes.
import type { Tensor } from './tensor.ts';
import { native } from './native.ts';

const stack: Tensor[][] = [];

export function track(t: Tensor): void {
  // no stack[-1] outside scopes: a negative index is a string-keyed lookup, slow for every tensor made
  if (stack.length) stack[stack.length - 1].push(t);
}

const KEPT = new WeakSet<Tensor>();

export function keep<T extends Tensor>(t: T): T {
  KEPT.add(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ((value as { __isTensor?: boolean }).__isTensor) {
    out.add(value as Tensor);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

export function scope<T>(fn: () => T): T {
  const tracked: Tensor[] = [];
  stack.push(tracked);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new TypeError('scope(fn): fn must be synchronous (tensors created across an await cannot be tracked)');
  } catch (e) {
    stack.pop();
    for (const t of tracked) if (!KEPT.has(t)) t.dispose();
    throw e;
  }
  stack.pop();
  const returned = new Set<Tensor>();
  collect(result, returned, new Set());
  const parent = stack[stack.length - 1];
  for (const t of tracked) {
    if (returned.has(t)) parent?.push(t);
    else if (!KEPT.has(t)) t.dispose();
  }
  return result;
}

/** Tensors alive in the native engine (created and neither disposed nor garbage-collected). */
export function liveTensors(): number {
  return native.liveTensors();
}

/**
 * Bytes of tensor storage reported to V8 as external memory (which drives its garbage collection): each
 * storage of 64 KB or more once, by the first handle that holds it; views are not reported again.
 */
export function reportedBytes(): number {
  return native.reportedBytes();
}

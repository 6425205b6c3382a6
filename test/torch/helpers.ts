// Shared assertions for engine tests.
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/torch/index.ts';

export function assertClose(actual: Tensor | number[], expected: number[], tol = 1e-6, msg = ''): void {
  const a = Array.isArray(actual) ? actual : actual.toArray();
  assert.equal(a.length, expected.length, `${msg} length ${a.length} != ${expected.length}`);
  for (let i = 0; i < a.length; i++) {
    const ok = Math.abs(a[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])) || (Number.isNaN(a[i]) && Number.isNaN(expected[i]));
    assert.ok(ok, `${msg} element ${i}: ${a[i]} != ${expected[i]} (tol ${tol})`);
  }
}

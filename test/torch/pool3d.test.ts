// 3D pooling (max_pool3d, avg_pool3d, adaptive_avg_pool3d) against values worked out by hand on
// x[t, h, w] = 16 t + 4 h + w (so every window's max is its last corner and its mean the centre's value).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { assertClose } from './helpers.ts';

/** [1, 1, 2, 4, 4] holding 16 t + 4 h + w. */
const ramp = () => torch.arange(0, 32, 1).float().reshape([1, 1, 2, 4, 4]);

test('max_pool3d: windows, strides, padding with -inf, ceil mode', () => {
  const x = ramp();
  const y = x.maxPool3d([2, 2, 2]);
  assert.deepEqual(y.shape, [1, 1, 1, 2, 2]);
  // window (t 0..1, h 2i..2i+1, w 2j..2j+1): max at t=1, h=2i+1, w=2j+1
  assertClose(y, [16 + 4 + 1, 16 + 4 + 3, 16 + 12 + 1, 16 + 12 + 3]);
  // kernel [1, 3, 3], stride [1, 2, 2]: along h/w windows start at 0 and 2 and the last is cut off (floor): one per axis
  const z = x.maxPool3d([1, 3, 3], [1, 2, 2]);
  assert.deepEqual(z.shape, [1, 1, 2, 1, 1]);
  assertClose(z, [10, 26]);
  // ceil mode adds the partial window starting at 2 (rows/cols 2..3)
  const c = x.maxPool3d([1, 3, 3], [1, 2, 2], 0, 1, true);
  assert.deepEqual(c.shape, [1, 1, 2, 2, 2]);
  assertClose(c, [10, 11, 14, 15, 26, 27, 30, 31]);
  // padding 1 in t with kernel 3 stride 1: each output sees both frames, so the max is the t=1 value
  const p = x.maxPool3d([3, 1, 1], 1, [1, 0, 0]);
  assert.deepEqual(p.shape, [1, 1, 2, 4, 4]);
  assertClose(p.select(2, 0).flatten(), Array.from({ length: 16 }, (_, i) => 16 + i));
});

test('max_pool3d on negative values pads with -inf, not 0', () => {
  const x = ramp().sub(100); // all negative
  const p = x.maxPool3d([1, 3, 3], 1, [0, 1, 1]);
  // output (0, 0, 0) sees h 0..1, w 0..1 at t=0: max 5 - 100
  assert.equal(p.select(2, 0).select(2, 0).select(2, 0).item(), 5 - 100);
});

test('avg_pool3d: means of windows, padding counted or not', () => {
  const x = ramp();
  const y = x.avgPool3d([2, 2, 2]);
  // mean over t in {0,1}, h in {2i, 2i+1}, w in {2j, 2j+1} = 16 * 0.5 + 4 (2i + 0.5) + (2j + 0.5)
  assertClose(y, [8 + 2 + 0.5, 8 + 2 + 2.5, 8 + 10 + 0.5, 8 + 10 + 2.5]);
  // kernel [1, 2, 2] with padding [0, 1, 1] at the corner (0, 0, 0): only x[0,0,0] = 0 is real
  const z = x.avgPool3d([1, 2, 2], [1, 2, 2], [0, 1, 1]);
  assert.deepEqual(z.shape, [1, 1, 2, 3, 3]);
  const corner = z.select(2, 1).flatten().toArray(); // t = 1
  assert.equal(corner[0], 16 / 4); // padding counted (count_include_pad default true)
  const excl = x.avgPool3d([1, 2, 2], [1, 2, 2], [0, 1, 1], false, false);
  assert.equal(excl.select(2, 1).flatten().toArray()[0], 16);
  // the centre output (h 1..2, w 1..2) at t = 1: mean 16 + 4 * 1.5 + 1.5
  assertClose([corner[4]], [16 + 6 + 1.5]);
});

test('adaptive_avg_pool3d to 1 is the global mean per channel', () => {
  const x = torch.cat([ramp(), ramp().mul(2)], 1);
  const g = x.adaptiveAvgPool3d([1, 1, 1]);
  assert.deepEqual(g.shape, [1, 2, 1, 1, 1]);
  assertClose(g, [15.5, 31]);
});

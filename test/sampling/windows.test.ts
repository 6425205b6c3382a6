import assert from 'node:assert/strict';
import { test } from 'node:test';
import { slidingWindows, triangularWeights, weightSums } from '../../src/sampling/windows.ts';

test('triangular weights for T=16 as the reference', () => {
  const w = triangularWeights(16);
  assert.deepEqual(w.slice(0, 3), [0.0625, 0.1875, 0.3125]);
  assert.equal(w[7], 0.9375);
  assert.equal(w[8], 0.9375);
  assert.equal(w[15], 0.0625);
});

test('windows for N=50, T=16, O=4 cover 1-15, 13-27, 25-39, 35-49 with the anchor frame', () => {
  const ws = slidingWindows(50, 16, 4);
  assert.equal(ws.length, 4);
  assert.deepEqual(ws.map((w) => [w.frames[0], w.frames[1], w.frames.at(-1)]), [[0, 1, 15], [0, 13, 27], [0, 25, 39], [0, 35, 49]]);
  for (const w of ws) assert.equal(w.frames.length, 16);
  assert.ok(weightSums(50, ws).every((s) => s > 0), 'every frame is covered');
});

test('a video shorter than or equal to a window is a single window (the reference crashes)', () => {
  assert.deepEqual(slidingWindows(5, 16, 4).map((w) => w.frames), [[0, 1, 2, 3, 4]]);
  assert.deepEqual(slidingWindows(16, 16, 4)[0].frames.length, 16);
});

test('bad window arguments are refused clearly', () => {
  assert.throws(() => slidingWindows(0, 16, 4), /numFrames must be a positive integer, got 0/);
  assert.throws(() => slidingWindows(10, 4, 4), /overlap must be in \[0, 3\], got 4/);
});

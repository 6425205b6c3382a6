// Sampling a driving input in time (io/frame-rate.ts): the chosen frames and rate make the animation last as
// long as its source, within one output frame, at any source rate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pickFrames, sampleFrames } from '../../src/io/frame-rate.ts';

test('a 30 fps second at 5 fps, at stride 2, and above the source rate', () => {
  const five = sampleFrames(30, 30, {}, 5);
  assert.deepEqual(five.indices, [0, 6, 12, 18, 24]);
  assert.equal(five.fps, 5);
  assert.match(five.description, /5 fps \(the weights' training rate\) from 30 fps/);
  const stride = sampleFrames(30, 30, { stride: 2 }, 5);
  assert.equal(stride.indices.length, 15);
  assert.equal(stride.indices[14], 28);
  assert.equal(stride.fps, 15);
  assert.match(stride.description, /every 2nd frame of 30 fps: 15 fps/);
  const fast = sampleFrames(12, 10, { fps: 24 }, 5);
  assert.deepEqual(fast.indices, [...Array(12).keys()], 'never more frames than the source has');
  assert.equal(fast.fps, 10);
  assert.match(fast.description, /every frame at the source's 10 fps \(below the 24 fps asked for\)/);
});

test('a rate that does not divide the source: indices round(k·S/R), duration kept', () => {
  const s = sampleFrames(100, 30000 / 1001, { fps: 7.5 }, 5);
  assert.deepEqual(s.indices.slice(0, 5), [0, 4, 8, 12, 16]);
  assert.equal(s.fps, 7.5);
  const t = sampleFrames(10, 25, { fps: 10 }, 5);
  assert.deepEqual(t.indices, [0, 3, 5, 8], 'round(k·2.5): 0, 2.5->3, 5, 7.5->8');
});

test('the output lasts as long as the source within one output frame, for many rates and lengths', () => {
  for (const src of [23.976, 24, 25, 29.97, 30, 50, 59.94, 60]) {
    for (const n of [1, 7, 31, 100, 451]) {
      for (const req of [{ fps: 5 }, { fps: 7.5 }, { fps: 12 }, { fps: 24 }, { stride: 1 }, { stride: 2 }, { stride: 3 }]) {
        const s = sampleFrames(n, src, req, 5);
        const diff = Math.abs(s.indices.length / s.fps - n / src);
        assert.ok(diff <= 1 / s.fps + 1e-9, `${n} frames at ${src} fps, ${JSON.stringify(req)}: ${s.indices.length} at ${s.fps} fps is ${diff} s off`);
        assert.ok(s.indices.every((v, i) => v < n && (i === 0 || v > s.indices[i - 1]!)), 'ascending source indices');
      }
    }
  }
});

test('no source rate: every (n-th) frame at the asked or default rate; maxFrames; bad requests', () => {
  const none = sampleFrames(6, undefined, {}, 5);
  assert.deepEqual([none.indices.length, none.fps, none.sourceFps], [6, 5, undefined]);
  const strided = sampleFrames(6, undefined, { stride: 2, fps: undefined }, 7.5);
  assert.deepEqual([strided.indices, strided.fps], [[0, 2, 4], 7.5]);
  assert.deepEqual(sampleFrames(30, 30, {}, 5, 3).indices, [0, 6, 12]);
  assert.deepEqual(pickFrames(['a', 'b', 'c', 'd', 'e'], { indices: [0, 2, 4] }), ['a', 'c', 'e']);
  assert.throws(() => sampleFrames(6, 30, { fps: 5, stride: 2 }, 5), /not both: the source plays at 30 fps/);
  assert.deepEqual(sampleFrames(6, undefined, { fps: 4, stride: 3 }, 5).indices, [0, 3], 'no source rate: both');
  assert.throws(() => sampleFrames(6, 30, { fps: 0 }, 5), /--fps must be a positive number, got 0/);
  assert.throws(() => sampleFrames(6, 30, { stride: 1.5 }, 5), /--stride must be a positive integer, got 1.5/);
});

// The rasteriser against plane geometry (areas of anti-aliased shapes), and the head model: projection
// round trip, a mirror-symmetric frontal face, and head yaw/roll recovered from OpenPose points built by hand
// with the BVH head geometry of motion-data.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Keypoint } from '../../src/pose/keypoints.ts';
import { estimateHeadPose, faceLandmarks, project, surfaceZ, unproject } from '../../src/mini/synth/head.ts';
import type { HeadPose } from '../../src/mini/synth/head.ts';
import { sampleIdentity } from '../../src/mini/synth/identity.ts';
import { Canvas, capsule, disc, ellipse, polygon, ring } from '../../src/mini/synth/shapes.ts';
import type { Shape } from '../../src/mini/synth/shapes.ts';
import { createRng } from '../../src/util/rng.ts';
import { drawBackground } from '../../src/mini/synth/background.ts';
import { renderClip } from '../../src/mini/synth/clip.ts';
import { cutClip, loadMotions } from '../../src/mini/synth/motion.ts';
import { MOTION_DIR } from '../align/helpers.ts';

/** Covered area in pixels: a white shape on black, summed. */
function area(shape: Shape): number {
  const c = new Canvas(64, 64);
  c.draw(shape.sdf, shape.bounds, [255, 255, 255]);
  let sum = 0;
  for (let i = 0; i < c.data.length; i += 3) sum += c.data[i]! / 255;
  return sum;
}

test('anti-aliased shapes cover their geometric area', () => {
  const close = (got: number, want: number, rel: number) => assert.ok(Math.abs(got - want) <= rel * want, `${got.toFixed(2)} vs ${want.toFixed(2)}`);
  close(area(disc([32.3, 31.7], 10)), Math.PI * 100, 0.005);
  close(area(polygon([[10, 10], [30, 10], [30, 30], [10, 30]])), 400, 0.001);
  close(area(polygon([[10, 10], [40, 10], [40, 20], [20, 20], [20, 40], [10, 40]])), 300 + 200, 0.002); // an L: concave
  close(area(capsule([12, 20], [50, 40], 5)), 2 * 5 * Math.hypot(38, 20) + Math.PI * 25, 0.005);
  close(area(ellipse([32, 32], 20, 8, 0.6)), Math.PI * 20 * 8, 0.01);
  close(area(ring(disc([32, 32], 15), 1)), 2 * Math.PI * 15 * 2, 0.01);
  // Opacity scales the coverage; a second shape is composited over the first.
  const c = new Canvas(8, 8);
  c.draw((x) => x - 4, { x0: 0, y0: 0, x1: 8, y1: 8 }, [200, 100, 0], 0.5);
  assert.deepEqual(Array.from(c.data.subarray(0, 3)), [100, 50, 0]);
  c.draw((x) => x - 4, { x0: 0, y0: 0, x1: 8, y1: 8 }, [0, 0, 200]);
  assert.deepEqual(Array.from(c.data.subarray(0, 3)), [0, 0, 200]);
});

test('head projection: unproject inverts project on the visible surface', () => {
  const head: HeadPose = { centre: [60, 40], radius: 12, yaw: 0.7, roll: -0.3 };
  const rng = createRng(1);
  for (let n = 0; n < 50; n++) {
    // A visible surface point: front of the ellipsoid after the yaw.
    const x = rng.uniform(-0.6, 0.6), y = rng.uniform(-0.8, 0.8);
    const z = surfaceZ(x, y);
    const { at, depth } = project(head, [x, y, z]);
    if (depth < 0.2) continue;
    const back = unproject(head, at[0], at[1]);
    // The point seen under the pixel is the one projected, unless a nearer part of the surface hides it.
    assert.ok(Math.hypot(back[0] - x, back[1] - y, back[2] - z) < 1e-6, `(${x}, ${y}, ${z}) -> (${back})`);
  }
});

test('a frontal face is mirror-symmetric: iBUG landmark pairs mirror about the head centre', () => {
  const id = sampleIdentity(createRng(4), 'x');
  const head: HeadPose = { centre: [50, 50], radius: 20, yaw: 0, roll: 0 };
  const lm = faceLandmarks(head, id.face);
  assert.equal(lm.length, 68);
  const pairs = [[0, 16], [4, 12], [17, 26], [19, 24], [21, 22], [31, 35], [36, 45], [39, 42], [48, 54], [60, 64]];
  for (const [a, b] of pairs) {
    assert.ok(Math.abs(lm[a]![0] - 50 - (50 - lm[b]![0])) < 1e-6, `x of ${a} and ${b}`);
    assert.ok(Math.abs(lm[a]![1] - lm[b]![1]) < 1e-6, `y of ${a} and ${b}`);
  }
  for (const i of [8, 27, 30, 33, 51, 57]) assert.ok(Math.abs(lm[i]![0] - 50) < 1e-6, `midline point ${i}`);
  assert.ok(lm[8]![1] > lm[57]![1] && lm[57]![1] > lm[33]![1] && lm[33]![1] > lm[39]![1] && lm[39]![1] > lm[19]![1], 'chin, mouth, nose, eyes, brows from the bottom up');
});

test('head yaw and roll from OpenPose points of the BVH head model', () => {
  // motion-data.ts puts, in units of the head size s, the nose at (forward 0.48, up -0.12), the eyes at
  // (0.40, 0.02, ±0.14 sideways), the ears at (-0.05, 0, ±0.33). Project orthographically at a known yaw, roll.
  const s = 10;
  for (const [yaw, roll] of [[0, 0], [0.5, 0.2], [-0.9, -0.3], [1.2, 0.1]] as const) {
    const c = [64, 40];
    const pt = (f: number, u: number, l: number): Keypoint => {
      // person's left = image right when facing the camera; yaw > 0 turns the nose towards image right
      const x = s * (l * Math.cos(yaw) + f * Math.sin(yaw));
      const y = -s * u;
      return [c[0]! + x * Math.cos(roll) - y * Math.sin(roll), c[1]! + x * Math.sin(roll) + y * Math.cos(roll), 1];
    };
    const body: Keypoint[] = Array.from({ length: 18 }, (): Keypoint => [0, 0, 0]);
    body[0] = pt(0.48, -0.12, 0);
    body[1] = [64, 80, 1];
    body[14] = pt(0.4, 0.02, -0.14);
    body[15] = pt(0.4, 0.02, 0.14);
    body[16] = pt(-0.05, 0, -0.33);
    body[17] = pt(-0.05, 0, 0.33);
    const head = estimateHeadPose(body, 12);
    assert.ok(Math.abs(head.yaw - yaw) < 0.08, `yaw ${head.yaw.toFixed(3)} vs ${yaw}`);
    assert.ok(Math.abs(head.roll - roll) < 1e-6, `roll ${head.roll} vs ${roll}`);
  }
  // Seen from the back (no nose): the face is turned away.
  const back: Keypoint[] = Array.from({ length: 18 }, (): Keypoint => [0, 0, 0]);
  back[1] = [64, 80, 1];
  back[16] = [70, 40, 1];
  back[17] = [58, 40, 1];
  assert.ok(Math.cos(estimateHeadPose(back, 12).yaw) < 0);
});

test('a clip frame without a person shows the background only, with no pose and no face box', async () => {
  const motions = await loadMotions(MOTION_DIR);
  const window = cutClip(motions.find((m) => m.source === 'dwpose')!, createRng(2), 64, 3, 2);
  window.body[1] = window.body[1]!.map((): Keypoint => [0, 0, 0]);
  const id = sampleIdentity(createRng(5), 'x');
  const clip = renderClip(id, window.body, 64, createRng(6));
  assert.deepEqual(clip.poses.frames[1]!.persons, []);
  assert.equal(clip.boxes[1], undefined);
  assert.ok(clip.boxes[0] && clip.boxes[2], 'the neighbours show a face');
  // renderClip draws the background first from its RNG: the same RNG alone gives the empty frame.
  const empty = new Canvas(64, 64);
  drawBackground(empty, createRng(6));
  assert.deepEqual(clip.frames[1]!.data, empty.toImage().data);
  assert.notDeepEqual(clip.frames[0]!.data, empty.toImage().data);
});

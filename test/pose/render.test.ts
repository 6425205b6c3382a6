import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createImage, readImage } from '../../src/io/image.ts';
import { probeVideo } from '../../src/io/video.ts';
import { poseFrameFromDwposeDict, type DwposeDict } from '../../src/pose/dwpose-dict.ts';
import type { PoseSequence } from '../../src/pose/keypoints.ts';
import { ellipse2Poly, fillCircle, fillConvexPoly } from '../../src/pose/raster.ts';
import { renderPose, renderPoseSequenceToFolder, renderPoseSequenceToVideo, writePoseImage } from '../../src/pose/render.ts';
import { resizeLinearCv } from '../../src/pose/resize-linear.ts';
import { withTempDir } from '../io/helpers.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/draw_pose/', import.meta.url));
interface Case {
  png: string;
  width: number;
  height: number;
  pose: DwposeDict;
}
const { cases } = JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as { cases: Case[] };

for (const c of cases) {
  test(`renderPose matches StableAnimator's draw_pose: ${c.png}`, async (t) => {
    const ours = renderPose(poseFrameFromDwposeDict(c.pose), c.width, c.height);
    const ref = await readImage(join(FIXTURES, c.png), { channels: 3 });
    assert.deepEqual([ours.width, ours.height], [ref.width, ref.height]);
    let sum = 0;
    let differing = 0;
    for (let i = 0; i < ref.data.length; i++) {
      const d = Math.abs(ours.data[i] - ref.data[i]);
      sum += d;
      if (d) differing++;
    }
    const mean = sum / ref.data.length / 255;
    t.diagnostic(`mean |diff| = ${mean.toExponential(3)} (of 1.0), ${differing} differing channel values`);
    assert.ok(mean <= 2 / 255, `mean abs diff ${mean}`);
    // The drawing is not trivially empty: limb 0 (neck to right shoulder) is red in the saved PNG.
    assert.ok(ref.data.some((v, i) => i % 3 === 0 && v > 100 && ref.data[i + 1] < 20 && ref.data[i + 2] < 20));
  });
}

test('fillCircle draws OpenCV’s radius-4 disc (49 pixels) and clips at the border', () => {
  const img = createImage(20, 20);
  fillCircle(img, 10, 10, 4, [255, 0, 0]);
  const widths: number[] = [];
  for (let y = 6; y <= 14; y++) {
    let w = 0;
    for (let x = 0; x < 20; x++) w += img.data[(y * 20 + x) * 3] ? 1 : 0;
    widths.push(w);
  }
  assert.deepEqual(widths, [1, 5, 7, 7, 9, 7, 7, 5, 1]);
  const corner = createImage(5, 5);
  fillCircle(corner, 0, 0, 4, [0, 9, 0]);
  assert.equal(corner.data[1], 9);
  assert.equal(corner.data[(4 * 5 + 4) * 3 + 1], 0);
});

test('ellipse2Poly follows OpenCV: whole-degree steps, rounded, duplicates removed', () => {
  const flat = ellipse2Poly([50, 50], [10, 4], 0);
  assert.deepEqual(flat[0], [60, 50]);
  assert.deepEqual(flat[flat.length - 1], [60, 50]);
  assert.ok(flat.some(([x, y]) => x === 50 && y === 54));
  assert.ok(flat.some(([x, y]) => x === 40 && y === 50));
  const turned = ellipse2Poly([50, 50], [10, 4], 90);
  assert.deepEqual(turned[0], [50, 60]);
  assert.deepEqual(ellipse2Poly([3, 3], [0, 0], 0), [[3, 3], [3, 3]]);
});

test('fillConvexPoly fills a square including its outline', () => {
  const img = createImage(10, 10);
  fillConvexPoly(img, [[2, 2], [6, 2], [6, 5], [2, 5]], [0, 0, 200]);
  let count = 0;
  for (let i = 2; i < img.data.length; i += 3) count += img.data[i] === 200 ? 1 : 0;
  assert.equal(count, 5 * 4);
});

test('resizeLinearCv: flat stays flat, 2x is a rounded 2x2 mean, equal size copies', () => {
  const flat = createImage(50, 30);
  flat.data.fill(77);
  assert.ok(resizeLinearCv(flat, 13, 7).data.every((v) => v === 77));
  const small = createImage(4, 2);
  small.data.set([0, 0, 0, 10, 10, 10, 1, 1, 1, 2, 2, 2, 20, 20, 20, 32, 32, 32, 4, 4, 4, 5, 5, 5]);
  assert.deepEqual([...resizeLinearCv(small, 2, 1).data], [16, 16, 16, 3, 3, 3]); // (0+10+20+32+2)>>2: 15.5 rounds up; (1+2+4+5+2)>>2
  assert.deepEqual(resizeLinearCv(small, 4, 2).data, small.data);
  // A single bright pixel between sample points vanishes on a large downscale: no area averaging.
  const dot = createImage(100, 100);
  dot.data.set([255, 255, 255], (0 * 100 + 1) * 3);
  assert.equal(resizeLinearCv(dot, 10, 10).data[0], 0);
});

test('portrait 1080p (an exact 2x canvas) and frames larger than the canvas (an upscale) render the same pose', () => {
  const frame = poseFrameFromDwposeDict(cases[0].pose);
  const red = (img: { data: Uint8Array }) => img.data.filter((v, i) => i % 3 === 0 && v > 100).length;
  const portrait = renderPose(frame, 1080, 1620);
  const large = renderPose(frame, 2400, 3600);
  const base = renderPose(frame, 512, 768);
  assert.deepEqual([portrait.width, portrait.height, large.width, large.height], [1080, 1620, 2400, 3600]);
  // Drawn at the same 2160 canvas, so the red area scales with the pixel count.
  const density = (img: { width: number; height: number; data: Uint8Array }) => red(img) / (img.width * img.height);
  assert.ok(Math.abs(density(portrait) / density(base) - 1) < 0.15);
  assert.ok(Math.abs(density(large) / density(base) - 1) < 0.15);
});

test('an empty pose renders black; writers produce PNG folders and videos', () =>
  withTempDir(async (dir) => {
    assert.ok(renderPose({ persons: [] }, 64, 48).data.every((v) => v === 0));
    const frame = poseFrameFromDwposeDict(cases[0].pose);
    const path = join(dir, 'pose.png');
    await writePoseImage(path, frame, 128, 192);
    const back = await readImage(path);
    assert.deepEqual(back.data, renderPose(frame, 128, 192).data);

    const seq: PoseSequence = { size: [64, 96], fps: 8, frames: [frame, frame, { persons: [] }] };
    const done: number[] = [];
    const files = await renderPoseSequenceToFolder(seq, join(dir, 'poses'), { onProgress: (p) => done.push(p.frames) });
    assert.deepEqual(await readdir(join(dir, 'poses')), ['frame_0.png', 'frame_1.png', 'frame_2.png']);
    assert.deepEqual([files.length, done], [3, [1, 2, 3]]);
    await renderPoseSequenceToVideo(seq, join(dir, 'poses.mp4'));
    const info = await probeVideo(join(dir, 'poses.mp4'));
    assert.deepEqual([info.width, info.height, info.frameCount, info.fps], [64, 96, 3, 8]);
  }));

/** A person with only a neck (1) and a right shoulder (2): limb 0 drawn from (x0,y) to (x1,y). */
function oneLimb(x0: number, x1: number, y: number): import('../../src/pose/keypoints.ts').PoseFrame {
  const body = Array.from({ length: 18 }, (): [number, number, number] => [0, 0, 0]);
  body[1] = [x0, y, 1];
  body[2] = [x1, y, 1];
  const none = (n: number) => Array.from({ length: n }, (): [number, number, number] => [0, 0, 0]);
  return { persons: [{ body, hands: [none(21), none(21)], face: none(68) }] };
}

/** Pixels of column x (rows) that are lit (any channel above `min`). */
function litRows(img: import('../../src/io/image.ts').Image, x: number, min = 24): number[] {
  const rows: number[] = [];
  for (let y = 0; y < img.height; y++) {
    const i = (y * img.width + x) * 3;
    if (Math.max(img.data[i]!, img.data[i + 1]!, img.data[i + 2]!) > min) rows.push(y);
  }
  return rows;
}

for (const size of [64, 128, 512]) {
  test(`legible skeletons at ${size} px: limbs and joints at least 2 px, no gaps; the reference style thins out`, () => {
    const frame = oneLimb(0.25, 0.75, 0.5);
    const legible = renderPose(frame, size, size, { style: 'legible' });
    // every column along the limb is lit over >= 2 consecutive rows
    for (let x = Math.ceil(0.3 * size); x <= Math.floor(0.7 * size); x++) {
      const rows = litRows(legible, x);
      assert.ok(rows.length >= 2, `column ${x}: ${rows.length} lit rows`);
      assert.equal(rows.at(-1)! - rows[0]! + 1, rows.length, `column ${x}: the stroke has a gap (${rows.join(',')})`);
    }
    // the joints (drawn on top of the limb's ends) are at least 2 px across, in the joint's own colour
    const jx = Math.trunc(0.25 * size);
    assert.ok(litRows(legible, jx).length >= 2);
    if (size <= 128) {
      // the reference's 2160 px canvas shrinks the same limb below 2 px at small sizes
      const reference = renderPose(frame, size, size);
      const widths = Array.from({ length: 5 }, (_, k) => litRows(reference, Math.trunc((0.4 + k * 0.05) * size)).length);
      assert.ok(widths.some((w) => w < 2), `reference widths ${widths}`);
    }
  });
}

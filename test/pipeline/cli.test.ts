// `stable-animator animate` end to end with tiny random weights (64x64, 3 frames, 2 steps): skeleton-image and
// keypoint driving, outputs, the no-face path, HJB from keypoint face boxes; and every error path of the command.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { writeImage } from '../../src/io/image.ts';
import { writeKeypointJson } from '../../src/pose/keypoint-json.ts';
import type { Keypoint, PersonPose } from '../../src/pose/keypoints.ts';
import { outputSize, runAnimate } from '../../src/cli/animate.ts';
import { framesToImages } from '../../src/pipeline/outputs.ts';
import { readWeightsFacts } from '../../src/pipeline/components.ts';
import { probeVideo } from '../../src/io/video.ts';
import { writeTinyWeights } from './fake-weights.ts';
import { randomImage, randomPoses } from './tiny.ts';

torch.setNumThreads(1);

const tmp = mkdtempSync(join(tmpdir(), 'sa-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const { args: weightArgs } = writeTinyWeights(join(tmp, 'weights'));
const ref = join(tmp, 'ref.png');
const skeletons = join(tmp, 'skeletons');
await writeImage(ref, framesToImages(randomImage(80, 64, 1).add(1).div(2))[0]);
for (const [i, img] of framesToImages(randomPoses(3, 64, 64, 2).add(1).div(2)).entries()) await writeImage(join(skeletons, `frame_${i}.png`), img);

function person(cx: number): PersonPose {
  const body: Keypoint[] = Array.from({ length: 18 }, (_, i) => [cx + 0.02 * ((i % 3) - 1), 0.2 + 0.04 * i, 0.9]);
  const face: Keypoint[] = Array.from({ length: 68 }, (_, i) => [cx - 0.08 + 0.16 * ((i % 10) / 9), 0.12 + 0.12 * (Math.floor(i / 10) / 6), 0.9]);
  return { body, hands: [Array(21).fill([0, 0, 0]), Array(21).fill([0, 0, 0])], face };
}
const keypoints = join(tmp, 'driving.json');
await writeKeypointJson(keypoints, { size: [64, 64], frames: [0.45, 0.5, 0.55].map((cx) => ({ persons: [person(cx)] })) });

async function animate(extra: string[]): Promise<{ code: number; log: string }> {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((s: string) => { lines.push(String(s)); return true; }) as typeof process.stderr.write;
  try {
    const code = await runAnimate([...weightArgs, '--ref', ref, '--size', '64x64', '--steps', '2', '--seed', '3', ...extra], (m) => lines.push(m));
    return { code, log: lines.join('\n') };
  } finally {
    process.stderr.write = write;
  }
}

test('skeleton images -> gif and PNG frames; no face in the reference is reported and the run goes on', async () => {
  const out = join(tmp, 'out.gif');
  const frames = join(tmp, 'frames');
  const { code, log } = await animate(['--driving', skeletons, '-o', out, '--frames-dir', frames, '--align', 'svd', '--guidance', '2']);
  assert.equal(code, 0);
  assert.ok(statSync(out).size > 0);
  assert.deepEqual(readdirSync(frames).sort(), ['frame_0.png', 'frame_1.png', 'frame_2.png']);
  assert.match(log, /skeleton images: they are used as they are/);
  assert.match(log, /no face in the reference: running without face tokens/);
  assert.match(log, /denoise \[#+\] 2\/2/);
  assert.ok(!readdirSync(tmp).some((f) => f.includes('.tmp-')), 'no temporary files left');
});

test('keypoints: aligned (or not, without a reference pose), drawn, animated with HJB on keypoint face boxes', async () => {
  const mask = join(tmp, 'ref-mask.png');
  const m = { width: 64, height: 80, channels: 3 as const, data: new Uint8Array(64 * 80 * 3) };
  for (let y = 10; y < 40; y++) m.data.fill(255, (y * 64 + 16) * 3, (y * 64 + 48) * 3);
  await writeImage(mask, m);
  const out = join(tmp, 'kp');
  const poses = join(tmp, 'poses');
  const { code, log } = await animate(['--driving', keypoints, '-o', out, '--align', 'svd', '--save-poses', poses,
    '--hjb', '--hjb-end', '0', '--hjb-iters', '1', '--ref-mask', mask, '--guidance', '1']);
  assert.equal(code, 0, log);
  assert.match(log, /no person found in the reference image: the driving poses are not aligned/);
  assert.match(log, /3 driving frame\(s\) \(keypoints, alignment: none\)/);
  assert.match(log, /HJB on steps 0\.\.0, 1 iteration\(s\), lr 0\.1; faces in 3\/3 frames/);
  assert.match(log, /face loss \d\.\d+ -> \d\.\d+/);
  assert.equal(readdirSync(out).length, 3);
  assert.equal(readdirSync(poses).length, 3);
});

test('--stride on a skeleton folder: every 2nd skeleton, and the face masks of the same frames', async () => {
  const masks = join(tmp, 'masks');
  const refMask = join(tmp, 'ref-mask-2.png');
  const mask = (face: boolean) => {
    const m = { width: 64, height: 64, channels: 3 as const, data: new Uint8Array(64 * 64 * 3) };
    if (face) for (let y = 10; y < 30; y++) m.data.fill(255, (y * 64 + 20) * 3, (y * 64 + 44) * 3);
    return m;
  };
  await writeImage(refMask, mask(true));
  // frame 1, which --stride 2 skips, has no face
  for (const [i, face] of [true, false, true].entries()) await writeImage(join(masks, `frame_${i}.png`), mask(face));
  const out = join(tmp, 'strided.mp4');
  const { code, log } = await animate(['--driving', skeletons, '-o', out, '--stride', '2', '--fps', '4', '--hjb', '--hjb-end', '0', '--hjb-iters', '1',
    '--face-masks', masks, '--ref-mask', refMask, '--guidance', '1', '--align', 'none']);
  assert.equal(code, 0, log);
  assert.match(log, /timing: 2 of 3 driving frame\(s\), every 2nd frame, played at 4 fps \(the source has no frame rate\)/);
  assert.match(log, /faces in 2\/2 frames/);
  assert.deepEqual([(await probeVideo(out)).frameCount, (await probeVideo(out)).fps], [2, 4]);
  rmSync(join(masks, 'frame_2.png'));
  await assert.rejects(animate(['--driving', skeletons, '-o', join(tmp, 'x2.mp4'), '--hjb', '--face-masks', masks, '--ref-mask', refMask]),
    /--face-masks .*masks: 2 masks; expected one per driving frame, at least 3/);
});

test("output size: --size, a side with the reference's aspect, or the trained size nearest the reference's aspect", () => {
  assert.deepEqual(outputSize({}, 1000, 1500), [576, 1024], 'portrait: the tall trained size');
  assert.deepEqual(outputSize({}, 1500, 1000), [512, 512], 'landscape: the square one');
  assert.deepEqual(outputSize({}, 768, 1024), [576, 1024], '3:4 lies between: the taller');
  assert.deepEqual(outputSize({}, 1500, 1000, readWeightsFacts('weights/mini')), [128, 128], "a miniature's own size");
  assert.deepEqual(outputSize({ width: '512' }, 1000, 1500), [512, 768]);
  assert.deepEqual(outputSize({ height: '1024' }, 576, 1024), [576, 1024]);
  assert.deepEqual(outputSize({ size: '576x1024' }, 10, 10), [576, 1024]);
  assert.throws(() => outputSize({ size: '500x512' }, 10, 10), /multiples of 64/);
  assert.throws(() => outputSize({ width: '100', height: '64' }, 10, 10), /unsupported size 100x64/);
  assert.throws(() => outputSize({ size: 'big' }, 10, 10), /--size must be WxH/);
});

test('errors: arguments, unreadable inputs, missing weights, HJB without boxes', async () => {
  const o = join(tmp, 'x.mp4');
  const fails = async (extra: string[], re: RegExp, base = true) => {
    await assert.rejects(base ? animate(extra) : runAnimate(extra, () => undefined), re);
  };
  await fails(['--driving', skeletons], /--ref, --driving and -o are required/);
  await fails(['--driving', skeletons, '-o', join(tmp, 'x.avi')], /unsupported output .*x\.avi/);
  await fails(['--driving', skeletons, '-o', o, '--size', '100x64'], /unsupported size 100x64: .*multiples of 64/);
  await fails(['--driving', skeletons, '-o', o, '--steps', '0'], /--steps must be a positive integer/);
  await fails(['--driving', skeletons, '-o', o, '--tile-overlap', '0'], /--tile-overlap must be in \[1/);
  await fails(['--driving', skeletons, '-o', o, '--align', 'magic'], /--align must be one of learned, svd, polyfit, none/);
  await fails(['--driving', skeletons, '-o', o, '--device', 'tpu'], /--device must be cpu, cuda or cuda:N/);
  await fails(['--driving', skeletons, '-o', o, '--fit', 'zoom'], /--fit must be one of crop, pad, stretch, got 'zoom'/);
  await fails(['--driving', skeletons, '-o', o, '--stride', '0'], /--stride must be a positive integer/);
  await fails(['--driving', skeletons, '-o', o, '--out-fps', '8'], /--out-fps was replaced by --fps/);
  await fails(['--driving', join(tmp, 'nope'), '-o', o], /cannot read the driving input .*nope: not found/);
  await fails(['--ref', join(tmp, 'missing.png'), '--driving', skeletons, '-o', o], /cannot read image .*missing\.png: file not found/, false);
  const notImage = join(tmp, 'text.png');
  writeFileSync(notImage, 'hello');
  await fails(['--ref', notImage, '--driving', skeletons, '-o', o], /cannot read image .*text\.png/, false);
  await fails(['--ref', ref, '--driving', skeletons, '-o', o, '--weights', join(tmp, 'empty')],
    /missing weights in .*empty:\n {2}Animation\/pose_net\.pth \(PoseNet\)\n {2}Animation\/face_encoder\.pth[\s\S]*weights download/, false);
  await fails(['--driving', skeletons, '-o', o, '--hjb'], /--hjb needs face boxes: give --face-masks DIR/);
  const badJson = join(tmp, 'bad.json');
  writeFileSync(badJson, '{"frames": 3}');
  await fails(['--driving', badJson, '-o', o, '--align', 'none'], /unknown pose format/);
  assert.ok(!existsSync(o));

  // refused before any model loads (issue 18): output paths that cannot be written, tiny or huge references
  await fails(['--driving', skeletons, '-o', tmp + '/sub.mp4', '--size', '64000x64000'], /--size: 64000x64000 exceeds the limit of 8192 pixels a side/);
  mkdirSync(join(tmp, 'a-folder.mp4'), { recursive: true });
  await fails(['--driving', skeletons, '-o', join(tmp, 'a-folder.mp4')], /-o .*a-folder\.mp4: is a folder, expected a file name/);
  writeFileSync(join(tmp, 'a-file'), 'x');
  await fails(['--driving', skeletons, '-o', join(tmp, 'a-file', 'out.mp4')], /-o .*a-file\/out\.mp4: .*a-file is a file, so no folder can be made there/);
  await fails(['--driving', skeletons, '-o', join(tmp, 'a-file')], /-o .*a-file: is a file, expected a folder/);
  const tiny = join(tmp, 'tiny.png');
  await writeImage(tiny, { width: 1, height: 1, channels: 3, data: new Uint8Array(3) });
  await fails(['--ref', tiny, '--driving', skeletons, '-o', o], /--ref .*tiny\.png: 1x1 is too small; expected at least 32 pixels a side/, false);
});

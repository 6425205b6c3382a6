import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import sharp from 'sharp';
import { faces } from '../../src/cli/faces.ts';
import { poses } from '../../src/cli/poses.ts';
import { parseSize } from '../../src/cli/args.ts';
import { progressLine } from '../../src/cli/progress.ts';
import { writeKeypointJson } from '../../src/pose/keypoint-json.ts';
import type { Keypoint } from '../../src/pose/keypoints.ts';
import { constantModel, writeModel } from '../pose/dwpose-onnx-fixture.ts';
import { mkdirSync } from 'node:fs';

const SHARED = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
const dir = mkdtempSync(join(tmpdir(), 'cli-poses-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a command with console output captured. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const warn = console.warn;
  const write = process.stderr.write.bind(process.stderr);
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.warn = (...a: unknown[]) => err.push(a.join(' '));
  process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await fn(), out: out.join('\n'), err: err.join('') };
  } finally {
    console.log = log;
    console.warn = warn;
    process.stderr.write = write;
  }
}

describe('poses CLI: arguments', () => {
  test('sizes, subcommands and detector names are checked', async () => {
    assert.deepEqual(parseSize('512x768'), [512, 768]);
    assert.throws(() => parseSize('512'), /WxH/);
    assert.throws(() => parseSize('64000x64000'), /--size: 64000x64000 exceeds the limit of 8192 pixels a side \(set STABLE_ANIMATOR_MAX_SIDE to raise it\)/);
    await assert.rejects(poses.run(['dance']), /unknown subcommand 'dance'/);
    await assert.rejects(poses.run(['extract', 'x.png']), /usage: stable-animator poses extract/);
    await assert.rejects(poses.run(['extract', 'x.png', '-o', 'y.json', '--detector', 'openpose']), /--detector must be dwpose or default/);
    await assert.rejects(poses.run(['extract', 'x.png', '-o', 'y.json', '--detector', 'dwpose']), /--dwpose-dir/);
    await assert.rejects(faces.run(['mask', 'v.mp4', '-o', dir, '--missing', 'maybe']), /--missing must be empty or full/);
  });

  test('progress line: frames, fps, ETA', () => {
    assert.equal(progressLine('poses', { frames: 30, total: 300 }, 10), 'poses 30/300 frames  3.0 fps  ETA 1m30s');
    assert.equal(progressLine('poses', { frames: 5 }, 2), 'poses 5 frames  2.5 fps  2s elapsed');
  });

  test('render: a keypoint file to pose images at --size', async () => {
    const body: Keypoint[] = Array.from({ length: 18 }, (_, i): Keypoint => [0.3 + 0.02 * i, 0.2 + 0.03 * i, 1]);
    const missing = (n: number) => Array.from({ length: n }, (): Keypoint => [0, 0, 0]);
    const file = join(dir, 'two.json');
    await writeKeypointJson(file, { size: [64, 48], frames: [0, 1].map(() => ({ persons: [{ body, hands: [missing(21), missing(21)], face: missing(68) }] })) });
    const out = join(dir, 'rendered');
    const r = await capture(() => poses.run(['render', file, '-o', out, '--size', '96x128']));
    assert.equal(r.code, 0);
    assert.match(r.out, /rendered 2 frame\(s\) at 96x128/);
    assert.deepEqual(readdirSync(out).sort(), ['frame_0.png', 'frame_1.png']);
    const { data, info } = await sharp(join(out, 'frame_0.png')).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [96, 128]);
    assert.ok(data.some((v) => v > 0), 'skeleton drawn');
  });
});

describe('poses extract --detector dwpose (stand-in ONNX models)', () => {
  test('one person box, 133 keypoints -> our JSON', async () => {
    const models = join(dir, 'dwpose');
    mkdirSync(models);
    const pred = new Float32Array(8400 * 85);
    pred.set([0.5, 0.5, Math.log(4), Math.log(8), 0.9, 0.9], (8000 + 6 * 20 + 5) * 85); // box [56, 40, 120, 168] at ratio 2
    writeModel(join(models, 'yolox_l.onnx'), constantModel({ name: 'images', dims: [1, 3, 640, 640] }, [{ name: 'output', dims: [1, 8400, 85], data: pred }]));
    const x = new Float32Array(133 * 576);
    const y = new Float32Array(133 * 768);
    for (let j = 0; j < 133; j++) {
      x[j * 576 + 288] = 0.9; // every keypoint at the crop centre
      y[j * 768 + 384] = 0.9;
    }
    writeModel(join(models, 'dw-ll_ucoco_384.onnx'), constantModel(
      { name: 'input', dims: [1, 3, 384, 288] },
      [{ name: 'simcc_x', dims: [1, 133, 576], data: x }, { name: 'simcc_y', dims: [1, 133, 768], data: y }],
    ));
    const image = join(dir, 'grey.png');
    await sharp({ create: { width: 320, height: 160, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toFile(image);
    const out = join(dir, 'dw.json');
    const r = await capture(() => poses.run(['extract', image, '-o', out, '--detector', 'dwpose', '--dwpose-dir', models]));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /1 frame\(s\) 320x160, 1 person detection/);
    const person = JSON.parse(readFileSync(out, 'utf8')).frames[0].persons[0];
    // Crop centre = box centre (88, 104) -> normalised (0.275, 0.65); neck score 1 (both shoulders 0.9).
    assert.deepEqual(person.body[1].map((v: number) => +v.toFixed(6)), [0.275, 0.65, 1]);
    assert.deepEqual(person.hands[1][20].map((v: number) => +v.toFixed(6)), [0.275, 0.65, 0.9]);
  });
});

describe('poses / faces CLI on real media', { skip: !existsSync(join(SHARED, 'photos', 'pexels_lunge.jpg')) && 'needs ../shared/data' }, () => {
  test('extract from a photo with --render, then from 3 video frames', async () => {
    const json = join(dir, 'lunge.json');
    const r = await capture(() => poses.run(['extract', join(SHARED, 'photos', 'fullbody_anyone3.png'), '-o', json, '--render', join(dir, 'lunge')]));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /1 frame\(s\) 614x922, 1 person detection/);
    const seq = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(seq.format, 'stable-animator-keypoints/1');
    assert.deepEqual(seq.size, [614, 922]);
    assert.equal(seq.frames[0].persons[0].body.length, 18);
    const meta = await sharp(join(dir, 'lunge', 'frame_0.png')).metadata();
    assert.deepEqual([meta.width, meta.height], [614, 922]);

    const video = join(SHARED, 'video', 'people_426x240.mp4');
    const vjson = join(dir, 'people.json');
    const v = await capture(() => poses.run(['extract', video, '-o', vjson, '--max-frames', '3', '--no-hands', '--no-face']));
    assert.equal(v.code, 0, v.err);
    assert.match(v.err, /poses \(default\) 3\/3 frames .* fps/);
    const vs = JSON.parse(readFileSync(vjson, 'utf8'));
    assert.equal(vs.frames.length, 3);
    assert.ok(Math.abs(vs.fps - 29.97) < 0.01);
    assert.ok(vs.frames.every((f: { persons: unknown[] }) => f.persons.length >= 1));
  });

  test('faces embed with --compare and -o; faces mask on video frames', async () => {
    const out = join(dir, 'emb.json');
    const r = await capture(() => faces.run(['embed', join(SHARED, 'photos', 'face_1.png'), '--compare', join(SHARED, 'photos', 'face_2.png'), '-o', out]));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /faceres embedding, 1024-d/);
    const csim = Number(/CSIM\(.*\) = (-?[\d.]+)/.exec(r.out)![1]);
    assert.ok(csim > -1 && csim < 0.65, `different persons: ${csim}`);
    assert.equal(JSON.parse(readFileSync(out, 'utf8')).embedding.length, 1024);

    const talking = join(SHARED, 'video', 'talking_head.mp4');
    if (!existsSync(talking)) return;
    const masks = join(dir, 'masks');
    const m = await capture(() => faces.run(['mask', talking, '-o', masks, '--max-frames', '2', '--largest']));
    assert.equal(m.code, 0, m.err);
    assert.match(m.out, /wrote 2 mask\(s\) 300x350/);
    assert.deepEqual(readdirSync(masks).sort(), ['faces.json', 'frame_0.png', 'frame_1.png']);
  });
});

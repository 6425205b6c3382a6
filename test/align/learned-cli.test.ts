// The commands: `poses align` (every method, DWPose and our JSON, --render) and `align eval` (the report files),
// with the shipped weights in weights/align.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { alignCommand } from '../../src/cli/align.ts';
import { alignEval } from '../../src/cli/align-eval.ts';
import { posesAlign } from '../../src/cli/poses-align.ts';
import { evaluateMisAlign } from '../../src/align/misalign-eval.ts';
import { alignPoseFrames } from '../../src/align/align-frames.ts';
import { DEFAULT_ALIGN_WEIGHTS, LearnedAlignment } from '../../src/align/learned-alignment.ts';
import { applySimilarity, similarityAboutCentre } from '../../src/pose/similarity.ts';
import { readPoseFile, writeKeypointJson } from '../../src/pose/keypoint-json.ts';
import { loadAlignmentData } from '../../src/align/training-data.ts';
import { MOTION_DIR, maxPersonDiff } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'align-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const DWPOSE = join(MOTION_DIR, 'dwpose', 'echomimic_04.json');

async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => { lines.push(args.join(' ')); };
  try {
    return { value: await fn(), out: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

test('poses align: a misaligned driving clip (our JSON) onto a DWPose reference, by every method', async () => {
  const source = await readPoseFile(DWPOSE);
  const sim = similarityAboutCentre(0.4, 0.6, [0.2, -0.1], source.size);
  const driving = { size: source.size, fps: 25, frames: source.frames.slice(20, 26).map((f) => ({ persons: f.persons.map((p) => applySimilarity(p, sim)) })) };
  await writeKeypointJson(join(dir, 'driving.json'), driving);
  const model = LearnedAlignment.fromPretrained(DEFAULT_ALIGN_WEIGHTS);
  for (const method of ['learned', 'svd', 'polyfit', 'none'] as const) {
    const out = join(dir, `aligned-${method}.json`);
    const { value, out: printed } = await quietly(() => posesAlign.run(['--ref', DWPOSE, '--driving', join(dir, 'driving.json'), '--method', method, '-o', out]));
    assert.equal(value, 0);
    assert.match(printed, new RegExp(`aligned 6 frame\\(s\\), 6 person\\(s\\) with '${method}'`));
    const aligned = await readPoseFile(out);
    assert.deepEqual(aligned.size, source.size);
    assert.equal(aligned.fps, 25);
    const expected = alignPoseFrames(source.frames[0]!, driving.frames, { method, model, refSize: source.size });
    aligned.frames.forEach((f, i) => assert.ok(maxPersonDiff(f.persons[0]!, expected.frames[i]!.persons[0]!) < 1e-12, `${method} frame ${i}`));
  }
  // The learned and svd alignments undo most of the misalignment; 'none' does not.
  const err = async (method: string) => {
    const a = await readPoseFile(join(dir, `aligned-${method}.json`));
    let sum = 0, n = 0;
    a.frames.forEach((f, i) => f.persons[0]!.body.forEach((k, j) => {
      const t = source.frames[20 + i]!.persons[0]!.body[j]!;
      if (t[2] >= 0.3) { sum += Math.hypot(k[0] - t[0], k[1] - t[1]); n++; }
    }));
    return sum / n;
  };
  const [learned, svd, none] = [await err('learned'), await err('svd'), await err('none')];
  assert.ok(learned < 0.1 * none && svd < 0.2 * none, `learned ${learned}, svd ${svd}, none ${none}`);
});

test('poses align --render writes one skeleton image per frame; bad arguments are explained', async () => {
  const render = join(dir, 'render');
  const { value } = await quietly(() => posesAlign.run(['--ref', DWPOSE, '--driving', join(dir, 'aligned-none.json'), '--method', 'svd', '-o', join(dir, 'r.json'), '--render', render]));
  assert.equal(value, 0);
  assert.deepEqual(readdirSync(render).sort(), ['frame_0.png', 'frame_1.png', 'frame_2.png', 'frame_3.png', 'frame_4.png', 'frame_5.png']);
  await assert.rejects(posesAlign.run(['--ref', DWPOSE, '--driving', DWPOSE, '--method', 'icp', '-o', join(dir, 'x.json')]), /--method must be one of learned, svd, polyfit, none, got 'icp'/);
  await assert.rejects(posesAlign.run(['--ref', DWPOSE, '-o', join(dir, 'x.json')]), /--ref, --driving and -o are required/);
  await assert.rejects(posesAlign.run(['--ref', DWPOSE, '--driving', DWPOSE, '--weights', join(dir, 'none'), '-o', join(dir, 'x.json')]), /cannot read .*config\.json/);
  await assert.rejects(alignCommand.run(['fit']), /expected a subcommand: train \| eval \(got 'fit'\)/);
});

test('align eval: prints the table and writes align.json with exactly the keys of the issue, and the error PNG', async () => {
  const report = join(dir, 'report');
  const { value, out } = await quietly(() => alignEval.run(['--data', DWPOSE, '--samples', '3', '--clip', '4', '--seed', '2', '-o', report]));
  assert.equal(value, 0);
  assert.match(out, /MisAlign \(seed 2\): 3 clips, 12 frames from echomimic_04/);
  assert.match(out, /Dis\s+none\s+polyfit\s+svd\s+learned/);
  const json = JSON.parse(readFileSync(join(report, 'align.json'), 'utf8'));
  assert.deepEqual(Object.keys(json), ['none', 'polyfit', 'svd', 'learned', 'frames']);
  assert.equal(json.frames, 12);
  for (const k of ['none', 'polyfit', 'svd', 'learned']) assert.ok(json[k] > 0 && json[k] < 1, `${k} ${json[k]}`);
  assert.ok(json.learned < json.none);
  assert.ok(existsSync(join(report, 'align-errors.png')));
  assert.equal(JSON.parse(readFileSync(join(report, 'align-details.json'), 'utf8')).by_source.dwpose.svd, json.svd);
});

test('the shipped weights on the held-out sequences: well below svd, polyfit and none (MisAlign, seed 0)', async () => {
  const { val } = await loadAlignmentData({ motionDir: MOTION_DIR, bvhCameras: 1, mirror: false });
  const r = evaluateMisAlign(val, { model: LearnedAlignment.fromPretrained(DEFAULT_ALIGN_WEIGHTS), samplesPerSequence: 16 });
  const d = r.dis as Record<string, number>;
  console.log(`shipped weights, ${r.frames} held-out frames: none ${d.none!.toFixed(4)} polyfit ${d.polyfit!.toFixed(4)} svd ${d.svd!.toFixed(4)} learned ${d.learned!.toFixed(4)}`);
  assert.ok(d.learned! < 0.7 * d.svd! && d.learned! < 0.6 * d.polyfit! && d.learned! < 0.35 * d.none!, JSON.stringify(d));
  assert.ok(r.bySource.dwpose!.learned! < r.bySource.dwpose!.svd! && r.bySource.bvh!.learned! < 0.7 * r.bySource.bvh!.svd!);
});

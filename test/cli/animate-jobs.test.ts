// `animate --jobs` (issue 16): a portrait and a landscape reference under each --fit, plus one broken case, with
// the shipped miniature loaded once: the broken case is reported and the others finish; a re-run skips the
// finished ones; the jobs file is checked before any model loads.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { mediaToolPath } from '../../src/io/ffmpeg.ts';
import { probeVideo } from '../../src/io/video.ts';
import { writeKeypointJson } from '../../src/pose/keypoint-json.ts';
import type { Keypoint, PersonPose } from '../../src/pose/keypoints.ts';
import { runAnimate } from '../../src/cli/animate.ts';
import { PHOTO } from '../eval/photo-frames.ts';

torch.setNumThreads(1);
const dir = mkdtempSync(join(tmpdir(), 'jobs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const [name, size] of [['portrait', '160:256'], ['landscape', '256:160']]) {
  execFileSync(mediaToolPath('ffmpeg'), ['-v', 'error', '-i', PHOTO, '-vf', `scale=${size}`, join(dir, `${name}.png`)]);
}
function person(cx: number): PersonPose {
  const body: Keypoint[] = Array.from({ length: 18 }, (_, i) => [cx + 0.05 * ((i % 3) - 1), 0.2 + 0.04 * i, 0.9]);
  return { body, hands: [Array(21).fill([0, 0, 0]), Array(21).fill([0, 0, 0])], face: Array(68).fill([0, 0, 0]) };
}
// 12 frames at 30 fps: 2 frames at the miniature's 5 fps
await writeKeypointJson(join(dir, 'dance.json'), { size: [128, 128], fps: 30, frames: Array.from({ length: 12 }, (_, i) => ({ persons: [person(0.4 + 0.01 * i)] })) });

const jobs = [
  ...['portrait', 'landscape'].flatMap((ref) => ['crop', 'pad', 'stretch'].map((fit) => ({ ref: `${ref}.png`, driving: 'dance.json', output: `out/${ref}-${fit}.mp4`, options: { fit } }))),
  { ref: 'portrait.png', driving: 'missing.json', output: 'out/broken.mp4' },
];
const file = join(dir, 'jobs.json');
writeFileSync(file, JSON.stringify({ defaults: { steps: 1, align: 'svd' }, jobs }));

async function run(args: string[]): Promise<{ code: number; log: string }> {
  const lines: string[] = [];
  const code = await runAnimate(args, (m) => lines.push(m));
  return { code, log: lines.join('\n') };
}

test('a jobs file with one broken case: the others finish, a summary table; a re-run skips the finished', async () => {
  const first = await run(['--jobs', file, '--weights', 'weights/mini']);
  assert.equal(first.code, 1, 'a failed job makes the exit code 1');
  assert.match(first.log, /job 7\/7 failed: cannot read the driving input .*missing\.json: not found/);
  assert.match(first.log, /job +status +frames +fps +time +output +error/);
  assert.match(first.log, /6 done, 0 skipped \(output exists\), 1 failed/);
  for (const j of jobs.slice(0, 6)) {
    const info = await probeVideo(join(dir, j.output));
    assert.deepEqual([info.width, info.height, info.frameCount, info.fps], [128, 128, 2, 5], j.output);
  }
  assert.ok(!existsSync(join(dir, 'out/broken.mp4')));
  const again = await run(['--jobs', file, '--weights', 'weights/mini']);
  assert.equal(again.code, 1);
  assert.match(again.log, /0 done, 6 skipped \(output exists\), 1 failed/);
});

test('the jobs file is checked before the models load', async () => {
  const bad = (content: unknown, re: RegExp) => {
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return assert.rejects(run(['--jobs', file, '--weights', join(dir, 'no-weights')]), re);
  };
  await bad('{ nope', /--jobs .*jobs\.json: not valid JSON/);
  await bad({ jobs: [{ ref: 'a.png', driving: 'b.json' }] }, /job 1: "output" must be a path, got undefined/);
  await bad([{ ref: 'a.png', driving: 'b.json', output: 'c.mp4', options: { zoom: 2 } }], /job 1: "options": unknown option "zoom"/);
  await bad([{ ref: 'a.png', driving: 'b.json', output: 'c.mp4', options: { fit: 'fill' } }], /"fit" must be crop\|pad\|stretch, got "fill"/);
  await bad([{ ref: 'a.png', driving: 'b.json', output: 'c.avi' }], /unsupported output c\.avi/);
  // without --weights: the Hugging Face cache (here an empty one), refused with the command that fills it
  writeFileSync(file, JSON.stringify([{ ref: 'portrait.png', driving: 'dance.json', output: 'out/cache.mp4' }]));
  const saved = process.env.HF_HUB_CACHE;
  process.env.HF_HUB_CACHE = join(dir, 'empty-cache');
  try {
    await assert.rejects(run(['--jobs', file]), /missing weights in the Hugging Face cache \(.*empty-cache\)[\s\S]*stable-animator weights download$/);
  } finally {
    if (saved === undefined) delete process.env.HF_HUB_CACHE; else process.env.HF_HUB_CACHE = saved;
  }
  await assert.rejects(run(['--jobs', file, '--weights', 'weights/mini', '--ref', PHOTO]), /--ref belongs in the jobs file/);
});

// Bad dataset entries: a clip with frames missing from poses/ is left out at indexing with the reason; a
// truncated PNG and a frame deleted after indexing are reported, counted and skipped while a run continues.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { indexDataset } from '../../src/train/animator/dataset.ts';
import { resolveTrainConfig } from '../../src/train/animator/train-config.ts';
import { trainAnimator } from '../../src/train/animator/trainer.ts';
import { tinyComponents } from '../pipeline/tiny.ts';
import { TINY_BUCKETS, writeTinyDataset } from './helpers.ts';

torch.setNumThreads(1);

const root = mkdtempSync(join(tmpdir(), 'sa-train-data-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('a truncated PNG and a frame deleted after indexing are reported, counted and skipped; the run finishes', async () => {
  const data = join(root, 'data');
  const dirs = (await writeTinyDataset(data, { clips: { rec: [4, 4, 4, 4], vec: [] } })).rec!;
  // clip 4: a pose frame missing before indexing -> left out by the index
  unlinkSync(join(dirs[3]!, 'poses', 'frame_2.png'));
  const buckets = [TINY_BUCKETS[0]!];
  const index = await indexDataset(data, { buckets, minFrames: 3 });
  assert.deepEqual(index.entries.map((e) => e.dir), dirs.slice(0, 3));
  assert.equal(index.skipped.length, 1);
  assert.equal(index.skipped[0]!.path, dirs[3]);
  assert.match(index.skipped[0]!.reason, /1 of 4 frames missing from poses\/ \(first: frame_2\.png\)/);
  // after indexing: clip 2 gets every image truncated (a PNG cut mid-stream), clip 3 loses its face masks
  for (let f = 0; f < 4; f++) truncateSync(join(dirs[1]!, 'images', `frame_${f}.png`), 40);
  for (let f = 0; f < 4; f++) unlinkSync(join(dirs[2]!, 'faces', `frame_${f}.png`));

  const lines: string[] = [];
  const out = join(root, 'run');
  // batch 3 = every clip of the bucket in step 1, so both bad clips are met
  const config = resolveTrainConfig({
    data, output: out, buckets, numFrames: 2, frameStride: 1, steps: 2, batchSize: 3, lr: 1e-3, faceEmbeddings: 'zeros',
    checkpointEvery: 2, validateEvery: 0, logEvery: 1, exportWeights: false, gradientCheckpointing: false,
  }, 'test');
  const r = await trainAnimator({ config, components: tinyComponents(0), index, log: (l) => lines.push(l) });
  assert.equal(r.finished, true);
  assert.equal(r.step, 2);
  assert.ok(r.losses.every(Number.isFinite));
  assert.deepEqual(Object.keys(r.badClips).sort(), [dirs[1], dirs[2]].sort());
  assert.match(r.badClips[dirs[1]!]!, /cannot read image .*images\/frame_\d\.png/);
  assert.match(r.badClips[dirs[2]!]!, /cannot read mask .*faces\/frame_\d\.png/);
  // each reported once, with the running count
  assert.ok(lines.some((l) => l.startsWith(`dataset: skipping ${dirs[3]}: 1 of 4 frames missing`)), 'the index skip is logged');
  const skips = lines.filter((l) => l.startsWith('dataset: skipping') && l.includes('clips skipped so far'));
  assert.equal(skips.length, 2, skips.join('\n'));
  assert.ok(skips.some((l) => l.includes(dirs[1]!)) && skips.some((l) => l.includes(dirs[2]!)));
  assert.match(skips[1]!, /\(2 clips skipped so far\)$/);
  // the log counts them per step
  const log = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(log.map((x) => x.skipped_clips), [2, 2]);
});

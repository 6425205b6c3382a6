// Training the alignment block: a short run on the real motion data beats the closed-form SVD fit on held-out
// sequences, and a run stopped after a checkpoint and resumed reproduces the uninterrupted loss sequence.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { LearnedAlignment } from '../../src/align/learned-alignment.ts';
import { loadAlignmentData } from '../../src/align/training-data.ts';
import type { AlignmentData } from '../../src/align/training-data.ts';
import { trainAlignment } from '../../src/align/train.ts';
import { listCheckpoints } from '../../src/nn/optim/checkpoint.ts';
import { MOTION_DIR } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'learned-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const quiet = () => {};

let data: AlignmentData;
before(async () => {
  torch.setNumThreads(1);
  data = await loadAlignmentData({ motionDir: MOTION_DIR, bvhCameras: 1 });
});

test('a few hundred steps on the training sequences bring the held-out Dis below the SVD baseline', async () => {
  const t0 = performance.now();
  const result = await trainAlignment({
    outDir: join(dir, 'short'), data, steps: 250, batchSize: 48, lr: 2e-3, warmupSteps: 20, seed: 1,
    config: { hidden_size: 32, num_attention_heads: 4, intermediate_size: 64 },
    valEvery: 0, checkpointEvery: 1000, valSamplesPerSequence: 8, valClipLength: 8, log: quiet,
  });
  const seconds = (performance.now() - t0) / 1000;
  const dis = result.val[result.val.length - 1]!.dis;
  console.log(`250 steps in ${seconds.toFixed(1)} s: val Dis ${dis.toFixed(4)}, svd ${result.baselines.svd.toFixed(4)}, polyfit ${result.baselines.polyfit.toFixed(4)}, none ${result.baselines.none.toFixed(4)}; loss ${result.losses[0]!.toFixed(4)} -> ${result.losses[249]!.toFixed(4)}`);
  assert.ok(dis < result.baselines.svd, `learned ${dis} vs svd ${result.baselines.svd}`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(result.losses.slice(200)) < 0.8 * mean(result.losses.slice(0, 20)), 'the training loss goes down');
  // The outputs a run leaves: weights loadable with fromPretrained, the summary, the loss plot.
  for (const f of ['config.json', 'model.safetensors', 'train.json', 'loss.png']) assert.ok(existsSync(join(dir, 'short', f)), f);
  assert.deepEqual(listCheckpoints(join(dir, 'short', 'checkpoints')).map((c) => c.step), [result.step]);
  const summary = JSON.parse(readFileSync(join(dir, 'short', 'train.json'), 'utf8'));
  assert.equal(summary.learned, dis);
  assert.deepEqual(summary.val, ['ad_dab', 'ad_jumping', 'echomimic_04', 'echomimic_ultraman']);
  assert.ok(!summary.train.some((n: string) => summary.val.includes(n.replace(/(#\d+)?(~mirror)?$/, ''))), 'no held-out sequence in training');
  const loaded = LearnedAlignment.fromPretrained(join(dir, 'short'));
  assert.deepEqual(loaded.stateDict().get('head.2.weight')!.toArray(), result.model.stateDict().get('head.2.weight')!.toArray());
});

test('resume after a kill continues identically: same losses as an uninterrupted run', async () => {
  const common = {
    data, steps: 12, batchSize: 16, lr: 3e-3, warmupSteps: 3, seed: 4,
    config: { hidden_size: 16, num_attention_heads: 2, intermediate_size: 32, fusion_layers: 2 },
    valEvery: 4, checkpointEvery: 5, valSamplesPerSequence: 2, valClipLength: 4, log: quiet, plot: false,
  };
  const straight = await trainAlignment({ ...common, outDir: join(dir, 'straight') });
  // Killed after step 7: the last checkpoint is at step 5, so steps 5 and 6 are redone after the resume.
  const first = await trainAlignment({ ...common, outDir: join(dir, 'resumed'), stopAfter: 7 });
  assert.equal(first.finished, false);
  assert.equal(first.step, 7);
  const lines: string[] = [];
  const second = await trainAlignment({ ...common, outDir: join(dir, 'resumed'), log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /resumed from .*checkpoint-5\.safetensors at step 5/.test(l)), lines.join('\n'));
  assert.equal(second.finished, true);
  assert.equal(second.losses.length, 12);
  assert.deepEqual(second.losses, straight.losses);
  assert.deepEqual(second.val, straight.val);
  for (const [k, t] of straight.model.stateDict()) assert.deepEqual(second.model.stateDict().get(k)!.toArray(), t.toArray(), k);
  // A different configuration does not silently resume from the folder's checkpoint.
  await assert.rejects(trainAlignment({ ...common, outDir: join(dir, 'resumed'), lr: 1e-3 }), /trained with lr = 0\.003, this run asks for 0\.001/);
});

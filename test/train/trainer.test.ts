// The trainer end to end on tiny models: exact resume after a stop, checkpoints kept, logs; gradient
// accumulation equal to the bigger batch; bf16 autocast close to f32; training from scratch with the cosine
// schedule lowers the loss. (Bad clips: animator-data.test.ts; validation: animator-validation.test.ts.)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import { readSafetensors } from '../../src/torch/serialization/index.ts';
import { listCheckpoints } from '../../src/nn/optim/checkpoint.ts';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/animator/train-config.ts';
import { trainAnimator } from '../../src/train/animator/trainer.ts';
import { tinyComponents } from '../pipeline/tiny.ts';
import { TINY_BUCKETS, writeTinyDataset } from './helpers.ts';

torch.setNumThreads(1); // the shared CI machine: one thread is ~10x faster than two under load

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

const maxDiff = (a: [string, Tensor][], b: [string, Tensor][]) => {
  assert.deepEqual(a.map(([k]) => k), b.map(([k]) => k));
  let worst = 0;
  a.forEach(([, p], i) => {
    const x = p.detach().contiguous().data<'f32'>();
    const y = b[i]![1].detach().contiguous().data<'f32'>();
    for (let j = 0; j < x.length; j++) worst = Math.max(worst, Math.abs(x[j]! - y[j]!));
  });
  return worst;
};

// 128x128 frames: at 64x64 the tiny UNet's lowest level is 1x1 with one channel per GroupNorm group, where
// the normalised value is 0 and its gradient is rounding noise amplified by 1/sqrt(eps) (so a batch of 2 and
// two batches of 1, which round differently, disagree there by far more than any tolerance).
const BUCKET_128 = { name: 'rec', width: 128, height: 128 };
let data128: string;
before(async () => {
  data128 = join(root, 'data128');
  await writeTinyDataset(data128, { clips: { rec: [4, 4] }, buckets: [BUCKET_128] });
});
const ONE_STEP = { steps: 1, lr: 1e-2, adamEps: 1, warmupSteps: 0, emaDecay: 0, maxGradNorm: 0, checkpointEvery: 1 };


test('2 micro-batches of 1 accumulated give the weights of 1 batch of 2', async () => {
  // AdamW's eps is 1: with the usual 1e-8 the first update is lr·g/(|g| + 1e-8) ≈ ±lr for every weight, so a
  // weight whose gradient is rounding noise (summed in another order by the two paths, ~1e-9 either side of 0)
  // would move by +lr in one run and −lr in the other. With eps 1 the update is ≈ lr·g, linear in the
  // gradient, and the runs differ by lr times the rounding difference of the gradients.
  const over = { ...ONE_STEP, data: data128, buckets: [BUCKET_128] };
  const accumulated = await trainAnimator({ config: config(join(root, 'acc'), { ...over, batchSize: 1, gradientAccumulation: 2 }), components: tinyComponents(0), log: () => {} });
  const batched = await trainAnimator({ config: config(join(root, 'batch'), { ...over, batchSize: 2, gradientAccumulation: 1 }), components: tinyComponents(0), log: () => {} });
  assert.ok(Math.abs(accumulated.losses[0]! - batched.losses[0]!) <= 1e-5 * Math.abs(batched.losses[0]!), `losses ${accumulated.losses} vs ${batched.losses}`);
  const moved = maxDiff(batched.params, selectedInit());
  assert.ok(moved > 1e-4, `the step moved the weights by at most ${moved}`);
  const diff = maxDiff(accumulated.params, batched.params);
  assert.ok(diff < 1e-6, `max |accumulated − batched| = ${diff}`);
});

test('bf16 autocast runs a step on f32 weights with a loss close to the f32 loss of the same batch', async () => {
  // same clips, frames, σ and noise (all seeded by position); only the precision of the forward differs
  const step = { ...ONE_STEP, data: data128, buckets: [BUCKET_128], batchSize: 1 };
  const f32 = await trainAnimator({ config: config(join(root, 'f32'), step), components: tinyComponents(0), log: () => {} });
  const bf16 = await trainAnimator({ config: config(join(root, 'bf16'), { ...step, mixedPrecision: 'bf16' }), components: tinyComponents(0), log: () => {} });
  const [lb, lf] = [bf16.losses[0]!, f32.losses[0]!];
  assert.ok(Number.isFinite(lb) && lb !== lf, `bf16 loss ${lb}, f32 ${lf}`);
  assert.ok(Math.abs(lb - lf) <= 0.05 * lf, `bf16 loss ${lb} vs f32 ${lf}`);
  assert.ok(bf16.params.every(([, p]) => p.dtype === 'f32'), 'autocast keeps the weights f32');
  const moved = maxDiff(bf16.params, selectedInit());
  assert.ok(moved > 1e-4, `the bf16 step moved the weights by at most ${moved}`);
  // the f32 and bf16 updates point the same way (cosine of the two weight updates)
  const init = selectedInit();
  let [dot, nb, nf] = [0, 0, 0];
  init.forEach(([, p0], i) => {
    const a = p0.data<'f32'>();
    const ub = bf16.params[i]![1].detach().contiguous().data<'f32'>();
    const uf = f32.params[i]![1].detach().contiguous().data<'f32'>();
    for (let j = 0; j < a.length; j++) [dot, nb, nf] = [dot + (ub[j]! - a[j]!) * (uf[j]! - a[j]!), nb + (ub[j]! - a[j]!) ** 2, nf + (uf[j]! - a[j]!) ** 2];
  });
  const cosine = dot / Math.sqrt(nb * nf);
  // a broken autocast gives ~0; the value depends on the CPU, since some of the tiny UNet's gradients are rounding
  // noise (its one-channel GroupNorm groups, see BUCKET_128): > 0.9 where bf16 GEMMs run in f32 (bf16-gemm.ts, CPUs
  // without bf16), 0.816 with libtorch's native bf16 kernels (an AVX512-BF16 EPYC, the previous session's code too)
  assert.ok(cosine > 0.75, `cosine of the bf16 and f32 updates ${cosine}`);
});

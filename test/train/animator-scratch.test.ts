// `fromScratch`: PoseNet and the Face Encoder built untrained from the checkpoints' configs (the paper trains
// them from their initialisation), trained 20 steps on one tiny clip with the cosine schedule: the logged
// learning rates follow the formula and the loss on a fixed batch (fixed σ, noise and dropout) goes down.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { PoseNet } from '../../src/models/animator/pose-net.ts';
import { FusionFaceId } from '../../src/models/face/face-encoder.ts';
import { loadTrainComponents } from '../../src/cli/train.ts';
import { ClipLoader } from '../../src/train/animator/clip-loader.ts';
import { DataOrder } from '../../src/train/animator/clip-sampler.ts';
import { indexDataset } from '../../src/train/animator/dataset.ts';
import { batchTensors, denoisingLoss, drawSample, type LossConfig } from '../../src/train/animator/denoising-loss.ts';
import { REFERENCE_SIGMA_SAMPLING } from '../../src/train/animator/edm.ts';
import { resolveTrainConfig } from '../../src/train/animator/train-config.ts';
import { trainAnimator } from '../../src/train/animator/trainer.ts';
import { writeTinyWeights } from '../pipeline/fake-weights.ts';
import { ID_DIM, TOKEN_DIM, tinyComponents } from '../pipeline/tiny.ts';
import { TINY_BUCKETS, writeTinyDataset } from './helpers.ts';

torch.setNumThreads(1);

const root = mkdtempSync(join(tmpdir(), 'sa-train-scratch-'));
after(() => rmSync(root, { recursive: true, force: true }));

const flat = (m: nn.Module) => m.parameters().flatMap((p) => Array.from(p.detach().contiguous().data<'f32'>()));

test('fromScratch: untrained PoseNet and Face Encoder from the configs; 20 cosine-scheduled steps lower the loss on a fixed batch', async (t) => {
  const data = join(root, 'data');
  await writeTinyDataset(data, { clips: { rec: [4], vec: [] } });
  const weights = writeTinyWeights(join(root, 'weights'), 0).args;
  const flag = (name: string) => weights[weights.indexOf(name) + 1]!;
  const [lr, minLr, steps, warmupSteps, seed] = [1e-2, 1e-3, 20, 3, 5];
  const config = resolveTrainConfig({
    data, output: join(root, 'out'), unet: flag('--unet'), poseNet: flag('--pose-net'), faceEncoder: flag('--face-encoder'), svd: flag('--svd'),
    fromScratch: true, seed, buckets: [TINY_BUCKETS[0]], numFrames: 2, frameStride: 1, steps, lr, lrSchedule: 'cosine', warmupSteps, minLr,
    faceEmbeddings: 'zeros', validateEvery: 0, checkpointEvery: steps, logEvery: 1, exportWeights: false, gradientCheckpointing: false,
  }, 'test');
  const { components } = loadTrainComponents(config);

  // built from the configs, initialised with the run's seed, not the files' weights
  const fresh = nn.withInit({ seed }, () => ({ poseNet: new PoseNet(32), faceEncoder: new FusionFaceId(TOKEN_DIM, ID_DIM, TOKEN_DIM, 4) }));
  assert.deepEqual(flat(components.poseNet), flat(fresh.poseNet));
  assert.deepEqual(flat(components.faceEncoder), flat(fresh.faceEncoder));
  assert.notDeepEqual(flat(components.poseNet), flat(tinyComponents(0).poseNet));

  // a fixed batch: the clip's step-0 sample, σ in {0.3, 1, 3}, no dropout
  const index = await indexDataset(data, { buckets: [TINY_BUCKETS[0]], minFrames: 3 });
  const sample = await new ClipLoader(index, new DataOrder(index.entries, 0, 1), { numFrames: 2, stride: 1, seed: 0 }).load(0, { entry: 0, slot: 0 });
  const cfg: LossConfig = { conditioningDropout: 0.1, noiseAugStrength: 0.02, fps: 7, motionBucketId: 127, sigma: REFERENCE_SIGMA_SAMPLING };
  const fixedLoss = () => torch.noGrad(() => [0.3, 1, 3].reduce((sum, sigma, k) => sum + torch.scope(() =>
    denoisingLoss(components, batchTensors([sample], ID_DIM), [{ ...drawSample(99, 0, k, REFERENCE_SIGMA_SAMPLING), sigma, dropout: 0.5 }], cfg).item()), 0));
  const before = fixedLoss();

  const result = await trainAnimator({ config, components, log: () => {} });
  assert.equal(result.step, steps);
  const afterLoss = fixedLoss();
  t.diagnostic(`fixed-batch loss ${before.toFixed(4)} -> ${afterLoss.toFixed(4)}`);
  assert.ok(afterLoss < 0.9 * before, `fixed-batch loss ${before} -> ${afterLoss}`);

  // the logged learning rates: warmup lr·(k+1)/3, then minLr + (lr − minLr)/2·(1 + cos(π·(k − 3)/17))
  const log = readFileSync(join(config.output, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const expected = Array.from({ length: steps }, (_, k) => k < warmupSteps
    ? (lr * (k + 1)) / warmupSteps
    : minLr + ((lr - minLr) / 2) * (1 + Math.cos((Math.PI * (k - warmupSteps)) / (steps - warmupSteps))));
  log.forEach((r, k) => assert.ok(Math.abs(r.lr - expected[k]!) < 1e-15, `step ${k}: lr ${r.lr}, formula ${expected[k]}`));
});

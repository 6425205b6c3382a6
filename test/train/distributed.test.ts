// `train --nproc 2` (two gloo processes, batch 1 each) against one process with batch 2: same samples, same
// noise (seeded per sample), gradients averaged by all-reduce instead of by the batch mean -> the same
// weights to fp tolerance. AdamW's eps is 1 here: with the usual 1e-8, a weight whose gradient is rounding
// noise (~1e-9) moves by ±lr on the noise's sign, which would compare the noise, not the training.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readSafetensors } from '../../src/torch/serialization/index.ts';
import { availableBackends } from '../../src/torch/distributed.ts';
import { resolveTrainConfig } from '../../src/train/animator/train-config.ts';
import { trainAnimator } from '../../src/train/animator/trainer.ts';
import { writeTinyWeights } from '../pipeline/fake-weights.ts';
import { tinyComponents } from '../pipeline/tiny.ts';
import { TINY_BUCKETS, writeTinyDataset } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'stable-animator.js');
const root = mkdtempSync(join(tmpdir(), 'sa-train-dist-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('train --nproc 2 (gloo, batch 1 each) gives the weights of one process with batch 2', { skip: !availableBackends().includes('gloo') && 'addon built without gloo' }, async () => {
  const data = join(root, 'data');
  await writeTinyDataset(data, { clips: { rec: [4, 4, 4], vec: [] } });
  const weights = writeTinyWeights(join(root, 'weights'), 0).args;
  const flag = (name: string) => weights[weights.indexOf(name) + 1]!;
  const settings = {
    data, buckets: [TINY_BUCKETS[0]], numFrames: 2, frameStride: 1, steps: 2, lr: 1e-2, adamEps: 1, checkpointEvery: 2, validateEvery: 0,
    faceEmbeddings: 'zeros', gradientCheckpointing: false, vaeEncodeChunk: 2, maxGradNorm: 1, emaDecay: 0.5,
  };
  const out = join(root, 'two');
  const cfg = join(root, 'train.json');
  writeFileSync(cfg, JSON.stringify({
    ...settings, batchSize: 1, output: out, unet: flag('--unet'), poseNet: flag('--pose-net'), faceEncoder: flag('--face-encoder'), arcface: flag('--arcface'), svd: flag('--svd'),
  }));
  const r = spawnSync(process.execPath, [BIN, 'train', '--config', cfg, '--nproc', '2'], { encoding: 'utf8', env: { ...process.env, STABLE_ANIMATOR_THREADS: '1' } });
  assert.equal(r.status, 0, r.stderr);

  const one = await trainAnimator({ config: resolveTrainConfig({ ...settings, batchSize: 2, output: join(root, 'one'), exportWeights: false }, 'test'), components: tinyComponents(0), log: () => {} });
  const final = new Map<string, Float32Array>();
  for (const [prefix, file] of [['pose_net.', 'pose_net'], ['face_encoder.', 'face_encoder'], ['unet.', 'unet']]) {
    for (const [k, t] of readSafetensors(join(out, 'final', `${file}.safetensors`))) {
      final.set(prefix + k, new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)));
    }
  }
  let worst = 0;
  let moved = 0;
  const init = new Map(tinyComponents(0).poseNet.namedParameters().map(([k, p]) => [`pose_net.${k}`, p.data<'f32'>()]));
  for (const [k, p] of one.params) {
    const a = p.detach().contiguous().data<'f32'>();
    const b = final.get(k);
    assert.ok(b, `final weights lack ${k}`);
    // final/ holds the EMA of the trained weights; compare with one process's EMA
    const e = one.ema!.shadow.get(k)!.data<'f32'>();
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(b[i]! - e[i]!));
    const i0 = init.get(k);
    if (i0 && a.some((x, i) => x !== i0[i])) moved++;
  }
  assert.ok(moved > 0, 'training moved no PoseNet weight');
  assert.ok(worst < 1e-5, `max |2 processes − 1 process| = ${worst}`);
});

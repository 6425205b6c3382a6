// The face-ID network: the ArcFace margin against a hand computation (value and gradient, both branches), the
// verification threshold search, and a tiny train-faceid run that lowers the loss, resumes exactly and writes
// weights that load back.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { readSynthDataset, writeSynthDataset } from '../../src/mini/synth/dataset.ts';
import { embedCrops, loadFaceIdWeights, trainFaceId } from '../../src/mini/face-id.ts';
import { bestThreshold, loadFaceCrops } from '../../src/mini/face-id-data.ts';
import { arcFaceLogits } from '../../src/mini/face-id-loss.ts';
import { MOTION_DIR } from '../align/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'faceid-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('ArcFace: logits and their gradient match a hand computation, in both branches of the margin', () => {
  const s = 10, m = 0.5;
  const cos = [[0.3, -0.2], [0.5, 0.1], [0.2, -0.95]];
  const labels = [0, 1, 1]; // the last target is past π − m: the fallback branch
  const leaf = torch.tensor(new Float32Array(cos.flat()), { shape: [3, 2] }).requiresGrad_(true);
  const logits = arcFaceLogits(leaf, labels, { scale: s, margin: m });
  const loss = torch.crossEntropy(logits, torch.tensor(new BigInt64Array([0n, 1n, 1n]), { shape: [3] }));
  loss.backward();
  const got = logits.toArray();
  const grad = leaf.grad!.toArray();

  let expectedLoss = 0;
  cos.forEach((row, i) => {
    const y = labels[i]!;
    const theta = Math.acos(row[y]!);
    const fallback = theta + m > Math.PI;
    const target = fallback ? row[y]! - m * Math.sin(m) : Math.cos(theta + m);
    const z = row.map((c, j) => s * (j === y ? target : c));
    z.forEach((v, j) => assert.ok(Math.abs(got[i * 2 + j]! - v) < 1e-4, `logit ${i},${j}: ${got[i * 2 + j]} vs ${v}`));
    const max = Math.max(...z);
    const sum = z.reduce((a, v) => a + Math.exp(v - max), 0);
    const p = z.map((v) => Math.exp(v - max) / sum);
    expectedLoss += (-Math.log(p[y]!)) / cos.length;
    // d(s·cos(θ+m))/dcos θ = s·(cos m + sin m · cos θ / sin θ); the fallback's slope is s.
    const slope = fallback ? s : s * (Math.cos(m) + (Math.sin(m) * row[y]!) / Math.sin(theta));
    row.forEach((_, j) => {
      const want = (j === y ? (p[j]! - 1) * slope : p[j]! * s) / cos.length;
      assert.ok(Math.abs(grad[i * 2 + j]! - want) < 1e-4 * Math.max(1, Math.abs(want)), `grad ${i},${j}: ${grad[i * 2 + j]} vs ${want}`);
    });
  });
  assert.ok(Math.abs(loss.item() - expectedLoss) < 1e-4, `loss ${loss.item()} vs ${expectedLoss}`);
});

test('bestThreshold: the threshold that classifies the most pairs right', () => {
  // Sorted: 0.1 d, 0.2 s, 0.3 d, 0.35 d, 0.6 s, 0.7 s. Cutting above 0.35 gets 5/6 (only 0.2 wrong); every
  // other cut gets at most 4/6.
  const r = bestThreshold([0.6, 0.1, 0.3, 0.7, 0.35, 0.2], [true, false, false, true, false, true]);
  assert.equal(r.accuracy, 5 / 6);
  assert.ok(Math.abs(r.threshold - 0.475) < 1e-9);
});

test('train-faceid (tiny): the loss falls, a killed run resumes to the same losses, the weights load back', async () => {
  const root = join(dir, 'data');
  await writeSynthDataset({ root, identities: 8, clipsPerIdentity: 2, frames: 4, seed: 3, heldOutIdentities: 0.5, heldOutMotionClips: 0, motionDir: MOTION_DIR });
  const data = await readSynthDataset(root);
  const threads = torch.getNumThreads();
  torch.setNumThreads(1);
  after(() => torch.setNumThreads(threads));
  const common = { data, steps: 40, batchSize: 16, warmupSteps: 5, lr: 3e-3, pairs: 50, plot: false, log: () => {} };
  const full = await trainFaceId({ ...common, outDir: join(dir, 'full') });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [first, last] = [mean(full.losses.slice(0, 8)), mean(full.losses.slice(-8))];
  assert.ok(last < 0.6 * first, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  assert.ok(full.verification && full.verification.testAccuracy >= 0 && full.verification.testAccuracy <= 1);
  assert.equal(full.verification.valIdentities.length + full.verification.testIdentities.length, 4);

  const part = await trainFaceId({ ...common, outDir: join(dir, 'part'), checkpointEvery: 10, stopAfter: 20 });
  assert.equal(part.finished, false);
  assert.ok(!existsSync(join(dir, 'part', 'model.safetensors')));
  const resumed = await trainFaceId({ ...common, outDir: join(dir, 'part'), checkpointEvery: 10 });
  assert.equal(resumed.losses.length, 40);
  resumed.losses.forEach((l, i) => assert.ok(Math.abs(l - full.losses[i]!) < 1e-4 * Math.max(1, full.losses[i]!), `step ${i}: ${l} vs ${full.losses[i]}`));

  const loaded = loadFaceIdWeights(join(dir, 'full'));
  const crops = await loadFaceCrops(data, data.split.clips.heldout_identity, loaded.config.input_size);
  const idx = [0, 1, 2];
  const a = embedCrops(full.model, crops, idx);
  const b = embedCrops(loaded, crops, idx);
  a.forEach((e, i) => e.forEach((v, j) => assert.ok(Math.abs(v - b[i]![j]!) < 1e-5)));
});

test('the shipped weights (weights/faceid) tell apart identities of a seed they never saw', async () => {
  const root = join(dir, 'unseen');
  await writeSynthDataset({ root, identities: 6, clipsPerIdentity: 2, frames: 4, seed: 101, motionDir: MOTION_DIR });
  const data = await readSynthDataset(root);
  const model = loadFaceIdWeights('weights/faceid');
  const crops = await loadFaceCrops(data, data.clips.map((c) => c.clip), model.config.input_size);
  const emb = embedCrops(model, crops, crops.identity.map((_, i) => i));
  let same = 0, ns = 0, diff = 0, nd = 0;
  for (let a = 0; a < emb.length; a++) {
    for (let b = a + 1; b < emb.length; b++) {
      const c = emb[a]!.reduce((s, v, k) => s + v * emb[b]![k]!, 0);
      if (crops.identity[a] === crops.identity[b]) { same += c; ns++; } else { diff += c; nd++; }
    }
  }
  // On the held-out identities of the shipped run: same 0.71, different 0.01 (docs/synth.md).
  assert.ok(same / ns > diff / nd + 0.3, `mean cosine same ${(same / ns).toFixed(3)}, different ${(diff / nd).toFixed(3)}`);
});

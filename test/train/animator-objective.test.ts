// The training objective against independent expectations: the reference's σ sampler (k-diffusion's
// rand_cosine_interpolated) against a closed form derived by hand, the eq. 25 loss and the face-mask resize on
// hand-computed cases, the conditioning-dropout thresholds (and that they reach the UNet's inputs), and the
// learning-rate schedules' values, and the faceMaskLoss ablation (eq. 25 with a zero mask).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { createRng } from '../../src/util/rng.ts';
import { batchTensors, conditioningKeeps, denoisingLoss, drawSample, type LossConfig } from '../../src/train/animator/denoising-loss.ts';
import { faceWeightedLoss, masksToLatent, REFERENCE_SIGMA_SAMPLING, sampleSigma, sigmaCosineInterpolated } from '../../src/train/animator/edm.ts';
import type { LoadedSample } from '../../src/train/animator/clip-loader.ts';
import { resolveTrainConfig } from '../../src/train/animator/train-config.ts';
import { ID_DIM, tinyComponents } from '../pipeline/tiny.ts';

torch.setNumThreads(1); // the shared CI machine: one thread is ~10x faster than two under load

const close = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b} (rel ${Math.abs(a - b) / Math.abs(b)})`);

// k-diffusion: logsnr(u) = lerp(logsnr_low(u), logsnr_high(u), u), σ = σ_data·exp(−logsnr/2), where each
// branch is the cosine schedule -2·ln tan(t_min + u·(t_max − t_min)) shifted by 2·ln(noise_d/image_d). In σ
// terms a branch with shift s = 2·ln(n/d) is σ_data·(d/n)·tan(atan(σ_max·n/(d·σ_data)) + u·(atan(σ_min·n/(d·σ_data)) − atan(σ_max·n/(d·σ_data)))),
// and the lerp of log-SNRs is a geometric interpolation of σ: σ = σ_low^(1−u)·σ_high^u.
function sigmaByHand(u: number): number {
  const sd = 0.5;
  const branch = (noiseD: number) => {
    const k = noiseD / 64;
    const a = Math.atan((700 * k) / sd);
    const b = Math.atan((0.002 * k) / sd);
    return (sd / k) * Math.tan(a + u * (b - a));
  };
  return branch(32) ** (1 - u) * branch(64) ** u;
}

test('σ sampler: rand_cosine_interpolated(64, 32..64, σ_data 0.5, [0.002, 700]) equals the hand-derived closed form', () => {
  const s = REFERENCE_SIGMA_SAMPLING;
  assert.deepEqual(s, { kind: 'cosine-interpolated', imageD: 64, noiseDLow: 32, noiseDHigh: 64, sigmaData: 0.5, sigmaMin: 0.002, sigmaMax: 700 });
  if (s.kind !== 'cosine-interpolated') throw new Error('unreachable');
  // the ends: u = 0 is σ_max, u = 1 is σ_min, for both branches
  close(sigmaCosineInterpolated(0, s), 700, 1e-12, 'u = 0');
  close(sigmaCosineInterpolated(1, s), 0.002, 1e-9, 'u = 1');
  for (const u of [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999]) close(sigmaCosineInterpolated(u, s), sigmaByHand(u), 1e-10, `u = ${u}`);
  // a value by hand: at u = 0.5 the high branch is 0.5·tan((atan(1400) + atan(0.004))/2), the low 1·tan((atan(700) + atan(0.002))/2)
  const high = 0.5 * Math.tan((Math.atan(1400) + Math.atan(0.004)) / 2);
  const low = Math.tan((Math.atan(700) + Math.atan(0.002)) / 2);
  close(sigmaCosineInterpolated(0.5, s), Math.sqrt(high * low), 1e-12, 'u = 0.5');
  // atan(x) ≈ π/2 − 1/x for large x: high ≈ 0.5·tan(π/4 + 0.001643) ≈ 0.50165, low ≈ tan(π/4 + 0.000286) ≈ 1.00057
  close(sigmaCosineInterpolated(0.5, s), Math.sqrt(0.50165 * 1.00057), 1e-4, 'u = 0.5 (number)');
  // the sampler draws u from the generator it is given
  const rng = createRng(1234);
  const copy = createRng(1234);
  for (let i = 0; i < 5; i++) close(sampleSigma(s, rng), sigmaByHand(copy.next()), 1e-10, `draw ${i}`);
  // and the log-normal alternative: ln σ = P_mean + P_std·n
  const ln = createRng(7);
  const lnCopy = createRng(7);
  close(sampleSigma({ kind: 'lognormal', pMean: 0.7, pStd: 1.6 }, ln), Math.exp(0.7 + 1.6 * lnCopy.normal()), 1e-12, 'lognormal');
});

test('eq. 25 on hand-computed cases: λ(σ)·(D − x0)²·(1 + M), D = c_out·F + c_skip·x_t, mean per sample then over the batch', () => {
  // σ = 1: c_out = −1/√2, c_skip = 1/2, λ = 2; F = 0, x_t = 2, x0 = 0 -> D = 1; face (M = 1): 2·1·2 = 4
  const one = (v: number) => torch.tensor([v], { shape: [1, 1, 1, 1, 1] });
  assert.equal(faceWeightedLoss(one(0), one(2), one(0), [1], one(1)).item(), 4);
  // no face: 2
  assert.equal(faceWeightedLoss(one(0), one(2), one(0), [1], one(0)).item(), 2);
  // σ = 2, F = 1: c_out = −2/√5, c_skip = 1/5, λ = 5/4; x_t = 5, x0 = 1: D = 1 − 2/√5, (D − x0)² = 4/5 -> λ·4/5 = 1
  assert.ok(Math.abs(faceWeightedLoss(one(1), one(5), one(0 + 1), [2], one(0)).item() - 1) < 1e-6);

  // B = 2, F = 1, C = 2, 2x2 latent; the mask is one channel broadcast over both
  const [b, c, n] = [2, 2, 4];
  const vals = (k: number) => Array.from({ length: b * c * n }, (_, i) => Math.sin(i * 1.3 + k) * 2);
  const out = vals(0);
  const xt = vals(1);
  const x0 = vals(2);
  const mask = [1, 0, 0, 1, 0, 0, 1, 1]; // [B,1,1,2,2]
  const sigmas = [0.5, 3];
  let expected = 0;
  for (let i = 0; i < b; i++) {
    const s = sigmas[i]!;
    let sum = 0;
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < n; p++) {
        const j = (i * c + ch) * n + p;
        const d = out[j]! * (-s / Math.sqrt(s * s + 1)) + xt[j]! / (s * s + 1);
        sum += ((1 + s * s) / (s * s)) * (d - x0[j]!) ** 2 * (1 + mask[i * n + p]!);
      }
    }
    expected += sum / (c * n) / b;
  }
  const t = (v: number[]) => torch.tensor(v, { shape: [b, 1, c, 2, 2] });
  close(faceWeightedLoss(t(out), t(xt), t(x0), sigmas, torch.tensor(mask, { shape: [b, 1, 1, 2, 2] })).item(), expected, 1e-6, 'batch');
});

test('face masks to the latent size: nearest neighbour picks pixels (2i, 2j) of a 4x4 mask', () => {
  // mask 1 exactly at the picked pixels of the left column, 0 elsewhere, so a wrong pick shows
  const m = new Float32Array(16);
  m[0 * 4 + 0] = 1;
  m[2 * 4 + 0] = 1;
  m[1 * 4 + 1] = 1; // never picked
  m[3 * 4 + 3] = 1; // never picked
  const small = masksToLatent(torch.tensor(m, { shape: [1, 1, 1, 4, 4] }), 2, 2);
  assert.deepEqual(small.shape, [1, 1, 1, 2, 2]);
  assert.deepEqual(Array.from(small.data<'f32'>()), [1, 0, 1, 0]);
  // non-square (a vec-bucket latent): 4 rows x 2 columns from 8x4
  const tall = new Float32Array(32).map((_, i) => Math.floor(i / 4) * 10 + (i % 4));
  assert.deepEqual(Array.from(masksToLatent(torch.tensor(tall, { shape: [1, 1, 1, 8, 4] }), 4, 2).data<'f32'>()), [0, 2, 20, 22, 40, 42, 60, 62]);
});

/** A 2-frame 64x64 sample; the first frame's face mask covers it all, the second has none. */
function syntheticSample(): LoadedSample {
  const S = 64;
  const img = (k: number) => ({ width: S, height: S, channels: 3 as const, data: Uint8Array.from({ length: S * S * 3 }, (_, i) => (i * 37 + k * 11) & 255) });
  return {
    clip: 'synthetic', bucket: 'rec', width: S, height: S, frames: [0, 1], reference: 2, images: [img(0), img(1)], poses: [img(2), img(3)],
    masks: [new Uint8Array(S * S).fill(1), new Uint8Array(S * S)], referenceImage: img(4), faceEmbedding: new Float32Array(ID_DIM).fill(0.3),
  };
}

test('conditioning dropout: r < 2p drops the CLIP token, p <= r < 3p the reference latent; the drops reach the UNet', () => {
  const p = 0.1;
  // 3p is 0.30000000000000004 in floating point, as in the reference: r = 0.3 still drops the reference
  const cases: [number, boolean, boolean][] = [
    [0, false, true], [0.0999, false, true], [0.1, false, false], [0.1999, false, false],
    [0.2, true, false], [0.2999, true, false], [0.3, true, false], [0.3001, true, true], [0.9999, true, true],
  ];
  for (const [r, clip, reference] of cases) assert.deepEqual(conditioningKeeps(r, p), { clip, reference }, `r = ${r}`);
  // rates over a uniform grid: CLIP dropped 2p, reference 2p, both p
  const grid = Array.from({ length: 10000 }, (_, i) => conditioningKeeps((i + 0.5) / 10000, p));
  assert.equal(grid.filter((k) => !k.clip).length, 2000);
  assert.equal(grid.filter((k) => !k.reference).length, 2000);
  assert.equal(grid.filter((k) => !k.clip && !k.reference).length, 1000);

  // wired into the loss: same σ and noise, only r changes. Keeping everything (r = 0.35, 0.9) gives the same
  // loss bit for bit; each drop pattern gives another.
  const models = tinyComponents(0);
  const sample = syntheticSample();
  const cfg: LossConfig = { conditioningDropout: p, noiseAugStrength: 0.02, fps: 7, motionBucketId: 127, sigma: REFERENCE_SIGMA_SAMPLING };
  const base = drawSample(0, 0, 0, REFERENCE_SIGMA_SAMPLING);
  const loss = (r: number) => torch.noGrad(() => torch.scope(() => denoisingLoss(models, batchTensors([sample], ID_DIM), [{ ...base, sigma: 1, dropout: r }], cfg).item()));
  const kept = loss(0.35);
  assert.equal(loss(0.9), kept);
  const dropped = [loss(0.05), loss(0.15), loss(0.25)];
  for (const d of dropped) assert.notEqual(d, kept);
  assert.equal(new Set(dropped).size, 3);
});

test('learning-rate schedules: warmup then cosine to minLr, and constant, at given steps', () => {
  const lr = 1e-3;
  const minLr = 1e-4;
  const cos = nn.cosineWithWarmup(lr, 12, { warmupSteps: 2, minLr });
  // warmup: lr·(k+1)/2; then minLr + (lr − minLr)/2·(1 + cos(π·(k − 2)/10))
  assert.deepEqual([cos(0), cos(1)], [5e-4, 1e-3]);
  for (const [k, t] of [[2, 0], [4, 0.2], [7, 0.5], [9, 0.7], [12, 1], [20, 1]] as const) {
    close(cos(k), minLr + ((lr - minLr) / 2) * (1 + Math.cos(Math.PI * t)), 1e-12, `step ${k}`);
  }
  close(cos(7), 5.5e-4, 1e-12, 'half way');
  const constant = nn.constantWithWarmup(lr, 4);
  assert.deepEqual([0, 1, 2, 3, 4, 100].map(constant), [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3]);
});

test('faceMaskLoss false: the loss is eq. 25 with an all-zero mask, the loss of the same sample with its masks cleared', () => {
  // Same draws throughout. With the sample's masks all zero, the default path is faceWeightedLoss(..., 0 mask)
  // by construction; faceMaskLoss false on the masked sample must give that value bit for bit.
  const models = tinyComponents(0);
  const masked = syntheticSample();
  const cleared: LoadedSample = { ...masked, masks: masked.masks.map((m) => new Uint8Array(m.length)) };
  const cfg: LossConfig = { conditioningDropout: 0.1, noiseAugStrength: 0.02, fps: 7, motionBucketId: 127, sigma: REFERENCE_SIGMA_SAMPLING };
  const draws = [{ ...drawSample(0, 0, 0, REFERENCE_SIGMA_SAMPLING), sigma: 1, dropout: 0.9 }];
  const loss = (s: LoadedSample, faceMaskLoss?: boolean) =>
    torch.noGrad(() => torch.scope(() => denoisingLoss(models, batchTensors([s], ID_DIM), draws, { ...cfg, faceMaskLoss }).item()));
  const plain = loss(masked, false);
  assert.equal(plain, loss(cleared));
  assert.equal(loss(cleared, false), plain);
  // the default weights the masked frame twice, so it is larger
  const weighted = loss(masked);
  assert.equal(loss(masked, true), weighted);
  assert.ok(weighted > plain, `${weighted} vs ${plain}`);
});

test('train config: faceMaskLoss defaults to true, takes false, and a non-boolean is refused naming the field', () => {
  const base = { data: '/d', output: '/o' };
  assert.equal(resolveTrainConfig(base, 'train.json').faceMaskLoss, true);
  assert.equal(resolveTrainConfig({ ...base, faceMaskLoss: false }, 'train.json').faceMaskLoss, false);
  assert.throws(() => resolveTrainConfig({ ...base, faceMaskLoss: 'no' }, 'train.json'), /^Error: train\.json: 'faceMaskLoss' must be true or false, found "no"$/);
  assert.throws(() => resolveTrainConfig({ ...base, faceMaskLoss: 0 }, 'train.json'), /'faceMaskLoss' must be true or false, found 0/);
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import { readSafetensors } from '../../src/torch/serialization/index.ts';
import { EulerDiscreteScheduler, SVD_XT_SCHEDULER_CONFIG } from '../../src/sampling/euler-discrete.ts';
import { indexForTimestep, sigmaToT, spacedTimesteps } from '../../src/sampling/scheduler.ts';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'scheduler_svd');
const CONFIG = JSON.parse(readFileSync(join(DIR, 'scheduler_config.json'), 'utf8')) as Record<string, unknown>;

function load(file: string): Map<string, Tensor> {
  return new Map([...readSafetensors(join(DIR, file))].map(([k, raw]) => [k, torch.fromRaw(raw)]));
}
const inputs = load('inputs.safetensors');
const outputs = load('output.safetensors');
const ref = (key: string) => {
  const t = outputs.get(key);
  if (!t) throw new Error(`no '${key}' in output.safetensors`);
  return t;
};
const input = (key: string) => inputs.get(key)!;

/** max|a − b| / max|b| */
function relError(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return a.sub(b).abs().max().item() / (b.abs().max().item() || 1);
}

function svd(steps: number): EulerDiscreteScheduler {
  const s = EulerDiscreteScheduler.fromConfig(CONFIG);
  s.setTimesteps(steps);
  return s;
}

test('the built-in SVD-xt scheduler config holds the released file\'s values', () => {
  // rescale_betas_zero_snr is newer than the released file (diffusers 0.24): its default, false
  for (const [k, v] of Object.entries(SVD_XT_SCHEDULER_CONFIG)) assert.deepEqual(v, k in CONFIG ? CONFIG[k] : false, k);
  const ours = EulerDiscreteScheduler.fromConfig(SVD_XT_SCHEDULER_CONFIG), theirs = svd(25);
  ours.setTimesteps(25);
  assert.deepEqual([...ours.sigmas], [...theirs.sigmas]);
  assert.deepEqual([...ours.timesteps], [...theirs.timesteps]);
});

test('SVD config: Karras sigmas, continuous timesteps and init noise sigma match diffusers', () => {
  for (const n of [25, 4]) {
    const s = svd(n);
    const sigmas = ref(`n${n}_sigmas`).toArray();
    const timesteps = ref(`n${n}_timesteps`).toArray();
    assert.equal(s.sigmas.length, n + 1);
    assert.equal(s.timesteps.length, n);
    sigmas.forEach((v, i) => assert.ok(Math.abs(s.sigmas[i]! - v) <= 1e-6 * Math.abs(v), `n${n} sigma ${i}: ${s.sigmas[i]} vs ${v}`));
    timesteps.forEach((v, i) => assert.ok(Math.abs(s.timesteps[i]! - v) <= 1e-6 * Math.abs(v), `n${n} timestep ${i}: ${s.timesteps[i]} vs ${v}`));
    assert.ok(Math.abs(s.initNoiseSigma - ref(`n${n}_init_noise_sigma`).item()) <= 1e-6 * 700);
    assert.equal(s.sigmas[n], 0);
  }
  // the closed form of the reference notes
  const s = svd(25);
  assert.ok(Math.abs(s.sigmas[0]! - 700) < 1e-4 && Math.abs(s.sigmas[24]! - 0.002) < 1e-9);
  assert.ok(Math.abs(s.sigmas[1]! - 545.729) < 1e-3);
  assert.ok(Math.abs(s.timesteps[0]! - 0.25 * Math.log(700)) < 1e-6);
});

test('SVD config: scaled inputs, x0 and Euler steps at k = 0, 12, 24 match diffusers', () => {
  for (const k of [0, 12, 24]) {
    const s = svd(25);
    const t = s.timesteps[k]!;
    const scaled = s.scaleModelInput(input('sample'), t);
    assert.ok(relError(scaled, ref(`n25_k${k}_scaled_model_input`)) <= 1e-5, `k${k} scaled input`);
    assert.equal(s.stepIndex, k);
    const out = s.step(input('model_output'), t, input('sample'));
    assert.ok(relError(out.prevSample, ref(`n25_k${k}_prev_sample`)) <= 1e-5, `k${k} prev sample`);
    assert.ok(relError(out.predOriginalSample, ref(`n25_k${k}_pred_original_sample`)) <= 1e-5, `k${k} x0`);
    assert.equal(s.stepIndex, k + 1);
  }
});

test('SVD config: a full 4-step loop matches diffusers step by step', () => {
  const s = svd(4);
  let x = input('sample').mul(s.initNoiseSigma);
  assert.ok(relError(x, ref('n4_loop_x_init')) <= 1e-6);
  const outs = input('model_outputs_4');
  s.timesteps.forEach((t, i) => {
    assert.ok(relError(s.scaleModelInput(x, t), ref(`n4_loop_step${i}_scaled_model_input`)) <= 1e-5, `step ${i} scaled input`);
    x = s.step(outs.select(0, i), t, x).prevSample;
    assert.ok(relError(x, ref(`n4_loop_step${i}_prev_sample`)) <= 1e-5, `step ${i} prev sample`);
  });
  assert.throws(() => s.step(outs.select(0, 0), s.timesteps[3]!, x), /no step left/);
});

test('churn: x is first raised to σ̂ = σ(1+γ) with the generator\'s noise (EDM Algorithm 2)', () => {
  const s = svd(25);
  const x = input('sample');
  const out = input('model_output');
  const t = s.timesteps[12]!;
  const sigma = s.sigmas[12]!, next = s.sigmas[13]!;
  assert.throws(() => svd(25).step(out, t, x, { sChurn: 1 }), /needs a generator/);
  const sChurn = 5, sNoise = 1.003;
  const res = s.step(out, t, x, { sChurn, sNoise, generator: new torch.Generator(7) });
  const gamma = Math.min(sChurn / 25, Math.SQRT2 - 1);
  const sigmaHat = sigma * (1 + gamma);
  const eps = torch.randn(out.shape, new torch.Generator(7));
  const xHat = x.add(eps.mul(sNoise * Math.sqrt(sigmaHat ** 2 - sigma ** 2)));
  // v-prediction x0 uses σ (not σ̂), as diffusers
  const x0 = out.mul(-sigma / Math.sqrt(sigma ** 2 + 1)).add(xHat.div(sigma ** 2 + 1));
  const expected = xHat.add(xHat.sub(x0).div(sigmaHat).mul(next - sigmaHat));
  assert.ok(relError(res.predOriginalSample, x0) <= 1e-6);
  assert.ok(relError(res.prevSample, expected) <= 1e-6);
  // outside [sTmin, sTmax] there is no churn: the plain step, the generator notwithstanding
  const plain = svd(25).step(out, t, x);
  const gated = svd(25).step(out, t, x, { sChurn, sTmax: 1, generator: new torch.Generator(7) });
  assert.equal(relError(gated.prevSample, plain.prevSample), 0);
});

test('epsilon and sample prediction types', () => {
  const x = input('sample');
  const out = input('model_output');
  for (const predictionType of ['epsilon', 'sample']) {
    const s = EulerDiscreteScheduler.fromConfig({ ...CONFIG, prediction_type: predictionType });
    s.setTimesteps(10);
    // continuous timesteps go with v-prediction only (diffusers): these are training timesteps
    assert.equal(s.timesteps[0], 999);
    assert.ok(s.timesteps[6]! > 500 && s.timesteps[6]! < 700, `t6 = ${s.timesteps[6]}`);
    // (σ > 14.6 all map to t = 999; a repeated timestep is looked up at its second occurrence)
    assert.equal(s.timesteps[1], 999);
    const sigma = s.sigmas[6]!, next = s.sigmas[7]!;
    const res = s.step(out, s.timesteps[6]!, x);
    const x0 = predictionType === 'epsilon' ? x.sub(out.mul(sigma)) : out;
    assert.ok(relError(res.predOriginalSample, x0) <= 1e-6);
    assert.ok(relError(res.prevSample, x.add(x.sub(x0).div(sigma).mul(next - sigma))) <= 1e-6);
  }
});

test('the discrete training schedule: betas, sigmas and timestep spacings as diffusers', () => {
  // Stable Diffusion's schedule: sigma range 0.0292 .. 14.6146
  const s = new EulerDiscreteScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 });
  assert.ok(Math.abs(s.trainSigmas[0]! - Math.sqrt(0.00085 / (1 - 0.00085))) < 1e-6);
  assert.ok(Math.abs(s.trainSigmas[999]! - 14.6146) < 1e-4, `${s.trainSigmas[999]}`);
  assert.equal(s.timesteps.length, 1000);
  assert.equal(s.timesteps[0], 999);
  const c = { ...s.config };
  assert.deepEqual([...spacedTimesteps({ ...c, timestep_spacing: 'leading', steps_offset: 1 }, 50)].slice(0, 3), [981, 961, 941]);
  assert.deepEqual([...spacedTimesteps({ ...c, timestep_spacing: 'leading', steps_offset: 1 }, 50)].slice(-1), [1]);
  assert.deepEqual([...spacedTimesteps({ ...c, timestep_spacing: 'trailing' }, 4)], [999, 749, 499, 249]);
  assert.deepEqual([...spacedTimesteps({ ...c, timestep_spacing: 'linspace' }, 4)], [999, 666, 333, 0]);
  // linspace spacing: sigmas interpolated at the timesteps, init sigma = the largest sigma itself
  s.setTimesteps(4);
  assert.deepEqual([...s.timesteps], [999, 666, 333, 0]);
  assert.equal(s.sigmas[1], s.trainSigmas[666]);
  assert.equal(s.initNoiseSigma, s.sigmas[0]);
  // fractional timesteps interpolate linearly between training sigmas
  const t = new EulerDiscreteScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 });
  t.setTimesteps(7);
  const ts = t.timesteps[1]!; // 832.5
  const lo = Math.floor(ts);
  assert.ok(Math.abs(t.sigmas[1]! - (t.trainSigmas[lo]! + (ts - lo) * (t.trainSigmas[lo + 1]! - t.trainSigmas[lo]!))) < 1e-6);
  // sigma -> fractional timestep inverts the training levels
  const logs = s.trainSigmas.map((v) => Math.log(v));
  for (const k of [0, 1, 250, 998, 999]) assert.ok(Math.abs(sigmaToT(s.trainSigmas[k]!, logs) - k) < 1e-3, `t(σ_${k})`);
});

test('discrete Karras timesteps lie between the training levels around each sigma', () => {
  const s = EulerDiscreteScheduler.fromConfig({ ...CONFIG, timestep_type: 'discrete' });
  s.setTimesteps(25);
  // σ beyond the training range clamps to the ends (0 and 999)
  assert.equal(s.timesteps[0], 999);
  assert.equal(s.timesteps[24], 0);
  let inside = 0;
  for (let i = 1; i < 24; i++) {
    if (s.sigmas[i]! >= s.trainSigmas[999]! || s.sigmas[i]! <= s.trainSigmas[0]!) continue;
    inside++;
    const t = s.timesteps[i]!, lo = Math.floor(t);
    assert.ok(s.trainSigmas[lo]! <= s.sigmas[i]! * (1 + 1e-6) && s.sigmas[i]! <= s.trainSigmas[lo + 1]! * (1 + 1e-6), `t ${t} σ ${s.sigmas[i]}`);
  }
  assert.ok(inside >= 8, `${inside} sigmas inside the training range`);
});

test('step index, begin index and config errors', () => {
  const s = svd(25);
  assert.equal(s.stepIndex, undefined);
  assert.throws(() => s.scaleModelInput(input('sample'), 0.123), /not in the schedule/);
  s.setBeginIndex(5);
  s.scaleModelInput(input('sample'), s.timesteps[0]!);
  assert.equal(s.stepIndex, 5);
  s.setTimesteps(25);
  assert.equal(s.stepIndex, undefined);
  // a repeated timestep is found at its second occurrence (diffusers), a missing one is an error
  assert.equal(indexForTimestep(999, Float32Array.from([999, 999, 999, 500])), 1);
  assert.equal(indexForTimestep(500, Float32Array.from([999, 999, 999, 500])), 3);
  assert.throws(() => EulerDiscreteScheduler.fromConfig({ ...CONFIG, rescale_betas_zero_snr: true }), /not implemented/);
  assert.throws(() => EulerDiscreteScheduler.fromConfig({ ...CONFIG, some_new_option: 1 }), /unsupported key 'some_new_option'/);
  assert.throws(() => s.setTimesteps(0), /positive integer/);
});

test('a step leaves no tensors behind but its outputs', () => {
  const s = svd(25);
  const before = torch.liveTensors();
  const out = s.step(input('model_output'), s.timesteps[0]!, input('sample'));
  assert.equal(torch.liveTensors(), before + 2);
  out.prevSample.dispose();
  out.predOriginalSample.dispose();
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import { EulerDiscreteScheduler } from '../../src/sampling/euler-discrete.ts';
import { HeunDiscreteScheduler } from '../../src/sampling/heun-discrete.ts';
import type { Scheduler } from '../../src/sampling/scheduler.ts';

const CONFIG = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'scheduler_svd', 'scheduler_config.json'), 'utf8')) as Record<string, unknown>;
const SD = 0.5; // data ~ N(0, SD²): its exact denoiser is D(x, σ) = x·SD²/(σ² + SD²)

/** A v-prediction "model" that is exact for Gaussian data; it sees only the scaled input and 0.25·ln σ. */
function vModel(scaled: Tensor, t: number): Tensor {
  const sigma = Math.exp(4 * t);
  const x = scaled.mul(Math.sqrt(sigma ** 2 + 1));
  const denoised = x.mul(SD ** 2 / (sigma ** 2 + SD ** 2));
  return denoised.sub(x.div(sigma ** 2 + 1)).div(-sigma / Math.sqrt(sigma ** 2 + 1));
}

function sample(s: Scheduler, x0: Tensor): Tensor {
  let x = x0.mul(s.initNoiseSigma);
  for (const t of s.timesteps) {
    const next = torch.scope(() => s.step(vModel(s.scaleModelInput(x, t), t), t, x).prevSample);
    x.dispose();
    x = next;
  }
  return x;
}

test('SVD config: the schedule repeats every inner level, with continuous timesteps', () => {
  const h = HeunDiscreteScheduler.fromConfig(CONFIG);
  const e = EulerDiscreteScheduler.fromConfig(CONFIG);
  h.setTimesteps(5);
  e.setTimesteps(5);
  const [s0, s1, s2, s3, s4] = e.sigmas;
  assert.deepEqual([...h.sigmas], [s0, s1, s1, s2, s2, s3, s3, s4, s4, 0]);
  const [t0, t1, t2, t3, t4] = e.timesteps;
  assert.deepEqual([...h.timesteps], [t0, t1, t1, t2, t2, t3, t3, t4, t4]);
  assert.equal(h.order, 2);
  assert.equal(h.initNoiseSigma, e.initNoiseSigma);
});

test('default config: discrete timesteps, repeated as diffusers', () => {
  const h = new HeunDiscreteScheduler();
  h.setTimesteps(4);
  assert.deepEqual([...h.timesteps], [999, 666, 666, 333, 333, 0, 0]);
  assert.equal(h.sigmas.length, 8);
  assert.equal(h.initNoiseSigma, h.sigmas[0]);
});

test('Heun steps equal EDM Algorithm 1 (γ = 0) computed by hand in float64', () => {
  const h = HeunDiscreteScheduler.fromConfig(CONFIG);
  h.setTimesteps(6);
  const start = torch.randn([2, 3, 4], new torch.Generator(3));
  const x = sample(h, start);
  // the same sampler on plain numbers
  const e = EulerDiscreteScheduler.fromConfig(CONFIG);
  e.setTimesteps(6);
  const sig = [...e.sigmas];
  const d = (v: number, s: number) => (v - v * SD ** 2 / (s ** 2 + SD ** 2)) / s;
  const expected = start.toArray().map((v0) => {
    let v = v0 * h.initNoiseSigma;
    for (let i = 0; i + 1 < sig.length; i++) {
      const [s, n] = [sig[i]!, sig[i + 1]!];
      const slope = d(v, s);
      const euler = v + (n - s) * slope;
      v = n === 0 ? euler : v + (n - s) * 0.5 * (slope + d(euler, n));
    }
    return v;
  });
  const got = x.toArray();
  const mag = Math.max(...expected.map(Math.abs));
  const err = Math.max(...got.map((g, i) => Math.abs(g - expected[i]!)));
  assert.ok(err <= 1e-5 * mag, `max error ${err} (max ${mag})`);
});

test('Heun converges at second order, Euler at first', () => {
  const start = torch.randn([64], new torch.Generator(4));
  const error = (s: Scheduler, steps: number) => {
    s.setTimesteps(steps);
    const x = sample(s, start);
    // the exact probability-flow ODE solution from σ0 to 0: x ∝ sqrt(σ² + SD²)
    const exact = start.mul(s.initNoiseSigma * SD / Math.sqrt(s.sigmas[0]! ** 2 + SD ** 2));
    return x.sub(exact).abs().max().item() / exact.abs().max().item();
  };
  const heun = [25, 50].map((n) => error(HeunDiscreteScheduler.fromConfig(CONFIG), n)) as [number, number];
  const euler = [25, 50].map((n) => error(EulerDiscreteScheduler.fromConfig(CONFIG), n)) as [number, number];
  assert.ok(heun[0] / heun[1] > 3.5, `Heun errors ${heun}`);
  assert.ok(euler[0] / euler[1] < 2.5 && euler[0] / euler[1] > 1.5, `Euler errors ${euler}`);
  assert.ok(heun[1] < euler[1] / 4, `Heun ${heun[1]} vs Euler ${euler[1]}`);
});

test('the corrector state survives caller scopes and is freed when used', () => {
  const h = HeunDiscreteScheduler.fromConfig(CONFIG);
  h.setTimesteps(3);
  const start = torch.randn([8], new torch.Generator(5));
  const before = torch.liveTensors();
  const x = sample(h, start);
  assert.equal(torch.liveTensors(), before + 1);
  assert.ok(h.stateInFirstOrder);
  x.dispose();
  // setTimesteps mid-step drops the pending state
  h.setTimesteps(3);
  const t = h.timesteps[0]!;
  const out = h.step(vModel(h.scaleModelInput(start, t), t), t, start);
  assert.ok(!h.stateInFirstOrder);
  h.setTimesteps(3);
  assert.ok(h.stateInFirstOrder);
  out.prevSample.dispose();
  out.predOriginalSample.dispose();
});

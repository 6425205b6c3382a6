// Heun sampler in sigma space: EDM's 2nd-order deterministic sampler (Karras et al. 2022, Algorithm 1),
// following diffusers' HeunDiscreteScheduler (v0.31) step for step.
//
// Each ODE step σ_j -> σ_{j+1} takes two model evaluations: an Euler predictor at σ_j, then a corrector
// at σ_{j+1} that averages the two slopes; the last step (to σ = 0) is a plain Euler step. So N steps
// give 2N-1 model calls, and the schedule repeats every inner level:
//   sigmas    = [σ0, σ1, σ1, σ2, σ2, ..., σ_{N-1}, σ_{N-1}, 0]
//   timesteps = [t0, t1, t1, t2, t2, ..., t_{N-1}, t_{N-1}]
// Call step() once per timestep, exactly as with Euler; `order` is 2.
//
// Beyond diffusers' Heun (documented differences):
//  - timestep_type 'continuous' gives the model 0.25·ln σ, as SVD's UNet expects (diffusers' Heun only
//    has discrete timesteps, which SVD cannot use);
//  - sigma_min / sigma_max bound the Karras range, as in Euler (diffusers' Heun takes the training ends).
// No churn (γ = 0), as diffusers.
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import {
  alphasCumprod, configFromJson, initNoiseSigmaOf, StepCursor, continuousTimesteps, inferenceSchedule, inputScale, trainingBetas, trainingSigmas,
  type DiscreteScheduleConfig, type Scheduler, type StepOutput,
} from './scheduler.ts';
import { predictOriginal } from './euler-discrete.ts';

export interface HeunDiscreteConfig extends DiscreteScheduleConfig {
  timestep_type: 'discrete' | 'continuous';
  /** Clamp x0 to [-clip_sample_range, clip_sample_range]. */
  clip_sample: boolean;
  clip_sample_range: number;
}

/** diffusers' HeunDiscreteScheduler defaults (plus ours: discrete timesteps, training-range Karras). */
export const HEUN_DEFAULTS: HeunDiscreteConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  use_karras_sigmas: false,
  sigma_min: null,
  sigma_max: null,
  clip_sample: false,
  clip_sample_range: 1,
  timestep_spacing: 'linspace',
  steps_offset: 0,
  timestep_type: 'discrete',
};

// Keys of other schedulers' configs (an SVD Euler config loads as a Heun one) that do not apply here.
const IGNORED = ['set_alpha_to_one', 'skip_prk_steps', 'interpolation_type', 'final_sigmas_type', 'thresholding'];
const f32 = Math.fround;

interface FirstOrderState {
  derivative: Tensor;
  dt: number;
  sample: Tensor;
}

export class HeunDiscreteScheduler implements Scheduler {
  readonly order = 2;
  readonly config: HeunDiscreteConfig;
  timesteps: Float32Array = new Float32Array(0);
  sigmas: Float32Array = new Float32Array(0);
  numInferenceSteps: number | undefined;
  readonly trainSigmas: Float32Array;
  #logSigmas: Float32Array;
  readonly #cursor = new StepCursor();
  /** Set between the predictor and the corrector of one ODE step. */
  #pending: FirstOrderState | undefined;

  constructor(config: Partial<HeunDiscreteConfig> = {}) {
    const c = { ...HEUN_DEFAULTS, ...config };
    if (!['epsilon', 'v_prediction', 'sample'].includes(c.prediction_type)) throw new Error(`HeunDiscreteScheduler: unknown prediction_type '${c.prediction_type}' (expected epsilon, v_prediction or sample)`);
    this.config = c;
    this.trainSigmas = trainingSigmas(alphasCumprod(trainingBetas(c)));
    this.#logSigmas = this.trainSigmas.map((s) => Math.log(s));
    this.setTimesteps(c.num_train_timesteps);
    this.numInferenceSteps = undefined;
  }

  /** From a diffusers scheduler config (snake_case keys); an SVD Euler config works too. */
  static fromConfig(json: Record<string, unknown>): HeunDiscreteScheduler {
    const extra = ['use_exponential_sigmas', 'use_beta_sigmas', 'rescale_betas_zero_snr'];
    for (const k of extra) if (json[k]) throw new Error(`HeunDiscreteScheduler: ${k} is not implemented`);
    return new HeunDiscreteScheduler(configFromJson(json, Object.keys(HEUN_DEFAULTS), [...IGNORED, ...extra]) as Partial<HeunDiscreteConfig>);
  }

  get initNoiseSigma(): number {
    return initNoiseSigmaOf(this.sigmas, this.config.timestep_spacing);
  }

  get stepIndex(): number | undefined {
    return this.#cursor.index;
  }

  /** True when the next step() is a predictor (Euler) step. */
  get stateInFirstOrder(): boolean {
    return this.#pending === undefined;
  }

  setBeginIndex(i = 0): void {
    this.#cursor.begin = i;
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const { sigmas, timesteps } = inferenceSchedule(c, numInferenceSteps, this.trainSigmas, this.#logSigmas);
    this.numInferenceSteps = numInferenceSteps;
    const levels = Float32Array.from([...sigmas, 0]);
    const repeated: number[] = [levels[0]!];
    for (let i = 1; i < levels.length - 1; i++) repeated.push(levels[i]!, levels[i]!);
    repeated.push(0);
    this.sigmas = Float32Array.from(repeated);
    if (c.timestep_type === 'continuous') {
      this.timesteps = continuousTimesteps(this.sigmas.subarray(0, this.sigmas.length - 1));
    } else {
      const t = Float32Array.from(timesteps);
      const rep: number[] = [t[0]!];
      for (let i = 1; i < t.length; i++) rep.push(t[i]!, t[i]!);
      this.timesteps = Float32Array.from(rep);
    }
    this.#clearPending();
    this.#cursor.reset();
  }

  scaleModelInput(sample: Tensor, timestep: number): Tensor {
    return sample.div(inputScale(this.sigmas[this.#cursor.at(timestep, this.timesteps)]!));
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor): StepOutput {
    const i = this.#cursor.at(timestep, this.timesteps);
    if (i + 1 >= this.sigmas.length) throw new Error(`HeunDiscreteScheduler.step: no step left after index ${i}`);
    const pending = this.#pending;
    const sigma = pending ? this.sigmas[i - 1]! : this.sigmas[i]!;
    const sigmaNext = pending ? this.sigmas[i]! : this.sigmas[i + 1]!;
    const sigmaHat = sigma; // γ = 0
    const c = this.config;
    const out = torch.scope(() => {
      let x0 = predictOriginal(c.prediction_type, modelOutput, sample, pending ? sigmaNext : sigmaHat, pending ? sigmaNext : sigmaHat);
      if (c.clip_sample) x0 = x0.clamp(-c.clip_sample_range, c.clip_sample_range);
      if (!pending) {
        const derivative = sample.sub(x0).div(sigmaHat);
        const dt = f32(sigmaNext - sigmaHat);
        const prev = sample.add(derivative.mul(dt));
        return { prevSample: prev, predOriginalSample: x0, derivative, dt };
      }
      const derivative = pending.derivative.add(sample.sub(x0).div(sigmaNext)).div(2);
      const prev = pending.sample.add(derivative.mul(pending.dt));
      return { prevSample: prev, predOriginalSample: x0, derivative: undefined, dt: 0 };
    });
    if (pending) {
      this.#clearPending();
    } else if (i + 2 < this.sigmas.length) {
      // the corrector needs this step's slope and starting point; keep them beyond any caller scope.
      // (After the final Euler step to the last sigma no corrector follows, so nothing is kept.)
      this.#pending = { derivative: torch.keep(out.derivative!), dt: out.dt, sample: torch.keep(sample.clone()) };
    } else {
      out.derivative!.dispose();
    }
    this.#cursor.index = i + 1;
    return { prevSample: out.prevSample, predOriginalSample: out.predOriginalSample };
  }

  #clearPending(): void {
    this.#pending?.derivative.dispose();
    this.#pending?.sample.dispose();
    this.#pending = undefined;
  }
}

// Euler sampler in sigma space (diffusers' EulerDiscreteScheduler, v0.31), with the optional stochastic
// "churn" of EDM's Algorithm 2 (Karras et al. 2022). SVD's sampler: v-prediction, Karras sigmas between
// 0.002 and 700, continuous timesteps 0.25·ln σ.
//
// One step at noise level σ (σ̂ = σ·(1+γ), γ > 0 only with churn):
//   x  ← x + sqrt(σ̂² − σ²)·ε·sNoise                  (churn)
//   x0 = model(x) under the prediction type           (v: out·(−σ/sqrt(σ²+1)) + x/(σ²+1))
//   x  ← x + (x − x0)/σ̂ · (σ_next − σ̂)
// As in diffusers, the v-prediction x0 uses σ, not σ̂; and continuous timesteps apply only together with
// v-prediction (otherwise the discrete training timesteps are used).
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import {
  alphasCumprod, configFromJson, initNoiseSigmaOf, StepCursor, continuousTimesteps, indexForTimestep, inferenceSchedule, inputScale, trainingBetas, trainingSigmas,
  type DiscreteScheduleConfig, type Scheduler, type StepOptions, type StepOutput,
} from './scheduler.ts';

export interface EulerDiscreteConfig extends DiscreteScheduleConfig {
  /** 'continuous': the model is given 0.25·ln σ (EDM/SVD); 'discrete': the training timestep. */
  timestep_type: 'discrete' | 'continuous';
  /** How sigmas are read off the training schedule; only 'linear' (np.interp) is implemented. */
  interpolation_type: 'linear';
  /** The level after the last step: 0, or the smallest training sigma. */
  final_sigmas_type: 'zero' | 'sigma_min';
}

/** diffusers' EulerDiscreteScheduler defaults. */
export const EULER_DEFAULTS: EulerDiscreteConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  interpolation_type: 'linear',
  use_karras_sigmas: false,
  sigma_min: null,
  sigma_max: null,
  timestep_spacing: 'linspace',
  timestep_type: 'discrete',
  steps_offset: 0,
  final_sigmas_type: 'zero',
};

// Keys of diffusers configs that do not affect this scheduler (written by other schedulers' configs).
const IGNORED = ['clip_sample', 'set_alpha_to_one', 'skip_prk_steps', 'clip_sample_range', 'thresholding'];
const f32 = Math.fround;

export class EulerDiscreteScheduler implements Scheduler {
  readonly order = 1;
  readonly config: EulerDiscreteConfig;
  timesteps: Float32Array;
  sigmas: Float32Array;
  numInferenceSteps: number | undefined;
  /** Training sigmas by training timestep, and their f32 logs (for sigma -> timestep). */
  readonly trainSigmas: Float32Array;
  #logSigmas: Float32Array;
  readonly #cursor = new StepCursor();

  constructor(config: Partial<EulerDiscreteConfig> = {}) {
    const c = { ...EULER_DEFAULTS, ...config };
    if (c.interpolation_type !== 'linear') throw new Error(`EulerDiscreteScheduler: interpolation_type '${c.interpolation_type as string}' is not implemented (expected 'linear', as SVD-xt's scheduler config)`);
    if (!['epsilon', 'v_prediction', 'sample'].includes(c.prediction_type)) throw new Error(`EulerDiscreteScheduler: unknown prediction_type '${c.prediction_type}' (expected epsilon, v_prediction or sample)`);
    this.config = c;
    this.trainSigmas = trainingSigmas(alphasCumprod(trainingBetas(c)));
    this.#logSigmas = this.trainSigmas.map((s) => Math.log(s));
    // before setTimesteps: every training level, descending, then 0
    const T = c.num_train_timesteps;
    this.sigmas = new Float32Array(T + 1);
    this.sigmas.set([...this.trainSigmas].reverse());
    this.timesteps = this.#continuous()
      ? continuousTimesteps(this.sigmas.subarray(0, T))
      : Float32Array.from({ length: T }, (_, i) => T - 1 - i);
  }

  /** From a diffusers `scheduler_config.json` (snake_case keys). */
  static fromConfig(json: Record<string, unknown>): EulerDiscreteScheduler {
    const extra = ['rescale_betas_zero_snr', 'use_exponential_sigmas', 'use_beta_sigmas'];
    for (const k of extra) if (json[k]) throw new Error(`EulerDiscreteScheduler: ${k} is not implemented`);
    return new EulerDiscreteScheduler(configFromJson(json, Object.keys(EULER_DEFAULTS), [...IGNORED, ...extra]) as Partial<EulerDiscreteConfig>);
  }

  #continuous(): boolean {
    return this.config.timestep_type === 'continuous' && this.config.prediction_type === 'v_prediction';
  }

  get initNoiseSigma(): number {
    return initNoiseSigmaOf(this.sigmas, this.config.timestep_spacing);
  }

  /** The index of the next step (undefined until the first scaleModelInput/step call). */
  get stepIndex(): number | undefined {
    return this.#cursor.index;
  }

  /** Starts at a given index instead of looking the first timestep up (img2img-style partial runs). */
  setBeginIndex(i = 0): void {
    this.#cursor.begin = i;
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const { sigmas, timesteps } = inferenceSchedule(c, numInferenceSteps, this.trainSigmas, this.#logSigmas);
    this.numInferenceSteps = numInferenceSteps;
    const last = c.final_sigmas_type === 'sigma_min' ? this.trainSigmas[0]! : 0;
    this.sigmas = Float32Array.from([...sigmas, last]);
    this.timesteps = this.#continuous()
      ? continuousTimesteps(this.sigmas.subarray(0, numInferenceSteps))
      : Float32Array.from(timesteps);
    this.#cursor.reset();
  }

  scaleModelInput(sample: Tensor, timestep: number): Tensor {
    const sigma = this.sigmas[this.#cursor.at(timestep, this.timesteps)]!;
    return sample.div(inputScale(sigma));
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, opts: StepOptions = {}): StepOutput {
    const i = this.#cursor.at(timestep, this.timesteps);
    if (i + 1 >= this.sigmas.length) throw new Error(`EulerDiscreteScheduler.step: no step left after index ${i}`);
    const { sChurn = 0, sTmin = 0, sTmax = Infinity, sNoise = 1, generator } = opts;
    const sigma = this.sigmas[i]!;
    const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (this.sigmas.length - 1), Math.SQRT2 - 1) : 0;
    if (gamma > 0 && !generator) throw new Error('EulerDiscreteScheduler.step: churn (sChurn > 0) needs a generator');
    const sigmaHat = f32(sigma * f32(gamma + 1));
    const out = torch.scope(() => {
      // upcast, as diffusers, to keep the update precise; cast back to the model's dtype at the end
      let x = sample.to('f32');
      // diffusers draws the churn noise on every call; drawing it whenever a generator is given keeps
      // the generator's stream identical to the reference's
      const noise = generator ? torch.randn(modelOutput.shape, generator, modelOutput.dtype, undefined, modelOutput.device) : undefined;
      if (gamma > 0) x = x.add(noise!.mul(sNoise).mul(f32(Math.sqrt(f32(f32(sigmaHat * sigmaHat) - f32(sigma * sigma))))));
      const predicted = predictOriginal(this.config.prediction_type, modelOutput, x, sigma, sigmaHat);
      const x0 = opts.refineOriginal ? opts.refineOriginal(predicted) : predicted;
      const derivative = x.sub(x0).div(sigmaHat);
      const dt = f32(this.sigmas[i + 1]! - sigmaHat);
      const prev = x.add(derivative.mul(dt)).to(modelOutput.dtype);
      return { prevSample: prev, predOriginalSample: x0 };
    });
    this.#cursor.index = i + 1;
    return out;
  }

  /** Noises clean samples to the level of `timestep`: x + noise·σ (training, img2img). */
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    const i = this.#cursor.begin ?? this.#cursor.index ?? indexForTimestep(timestep, this.timesteps);
    return original.add(noise.mul(this.sigmas[i]!));
  }
}

/** x0 from the model output at level σ (σ̂ for epsilon, as diffusers). */
export function predictOriginal(type: string, modelOutput: Tensor, x: Tensor, sigma: number, sigmaHat: number): Tensor {
  if (type === 'sample') return modelOutput.clone();
  if (type === 'epsilon') return x.sub(modelOutput.mul(sigmaHat));
  if (type === 'v_prediction') {
    const s2 = f32(f32(sigma * sigma) + 1);
    return modelOutput.mul(f32(-sigma / f32(Math.sqrt(s2)))).add(x.div(s2));
  }
  throw new Error(`unknown prediction_type '${type}'`);
}

/** stable-video-diffusion-img2vid-xt's scheduler/scheduler_config.json. */
export const SVD_XT_SCHEDULER_CONFIG = {
  beta_end: 0.012, beta_schedule: 'scaled_linear', beta_start: 0.00085, interpolation_type: 'linear', num_train_timesteps: 1000,
  prediction_type: 'v_prediction', rescale_betas_zero_snr: false, sigma_max: 700.0, sigma_min: 0.002, steps_offset: 1,
  timestep_spacing: 'leading', timestep_type: 'continuous', trained_betas: null, use_karras_sigmas: true,
};

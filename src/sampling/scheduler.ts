// The scheduler protocol (diffusers' tiny interface, so samplers are swappable) and the discrete training
// noise schedule that the sigma-space samplers (Euler, Heun) share.
//
//   scheduler.setTimesteps(25);
//   let x = noise.mul(scheduler.initNoiseSigma);
//   for (const t of scheduler.timesteps) {
//     const out = unet(scheduler.scaleModelInput(x, t), t, ...);
//     x = scheduler.step(out, t, x).prevSample;
//   }
//
// The schedule math mirrors diffusers v0.31 number for number: float32 where the reference holds torch
// float32 tensors, float64 where it holds numpy float64 arrays (Math.fround marks every f32 rounding).
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';

export interface StepOptions {
  /** EDM's S_churn: stochasticity; gamma = min(sChurn / (num sigmas - 1), sqrt(2) - 1). Default 0. */
  sChurn?: number;
  /** Churn only applies where sTmin <= sigma <= sTmax. Defaults 0 and Infinity. */
  sTmin?: number;
  sTmax?: number;
  /** Scale of the churn noise (EDM's S_noise). Default 1. */
  sNoise?: number;
  /** Source of the churn noise; required when churn is active. */
  generator?: torch.Generator;
  /**
   * Replaces the predicted clean sample before the update (StableAnimator's HJB face optimisation hands the
   * optimised x0 to the Euler step this way). First-order samplers only.
   */
  refineOriginal?: (predOriginal: Tensor) => Tensor;
}

export interface StepOutput {
  /** The sample at the next (smaller) noise level. */
  prevSample: Tensor;
  /** The model's estimate of the clean sample (x0) at this step. */
  predOriginalSample: Tensor;
}

export interface Scheduler {
  /** Model evaluations per step of the ODE: 1 for Euler, 2 for Heun. */
  readonly order: number;
  /** Model timesteps, one per model evaluation, in the order they are used. */
  readonly timesteps: Float32Array;
  /** Noise levels; one more than the timesteps (the last is the final level, usually 0). */
  readonly sigmas: Float32Array;
  /** The standard deviation of the initial noise: multiply unit Gaussian noise by this. */
  readonly initNoiseSigma: number;
  setTimesteps(numInferenceSteps: number): void;
  /** Divides the sample by sqrt(sigma² + 1), the input scaling the model was trained with. */
  scaleModelInput(sample: Tensor, timestep: number): Tensor;
  step(modelOutput: Tensor, timestep: number, sample: Tensor, opts?: StepOptions): StepOutput;
}

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type TimestepSpacing = 'linspace' | 'leading' | 'trailing';

/** The settings every discrete-sigma scheduler reads (diffusers' names, snake_case as in scheduler_config.json). */
export interface DiscreteScheduleConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  /** Overrides beta_schedule when given. */
  trained_betas: number[] | null;
  prediction_type: PredictionType;
  /** Karras et al. (2022) sigmas, rho = 7, between sigma_min and sigma_max. */
  use_karras_sigmas: boolean;
  /** Karras range; null takes the ends of the training schedule. */
  sigma_min: number | null;
  sigma_max: number | null;
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
}

const f32 = Math.fround;

/**
 * The inference noise levels of a discrete schedule (diffusers' set_timesteps, before the final sigma is
 * appended): spaced training timesteps read off the training sigmas, or Karras sigmas and the fractional
 * training timesteps they fall on.
 */
export function inferenceSchedule(c: DiscreteScheduleConfig, numInferenceSteps: number, trainSigmas: Float32Array, logSigmas: Float32Array):
  { sigmas: Float64Array; timesteps: ArrayLike<number> } {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) throw new Error(`setTimesteps: need a positive integer, got ${numInferenceSteps}`);
  const spaced = spacedTimesteps(c, numInferenceSteps);
  if (!c.use_karras_sigmas) return { sigmas: interpIndex(spaced, trainSigmas), timesteps: spaced };
  const range = c.sigma_min === null || c.sigma_max === null ? interpIndex(spaced, trainSigmas) : undefined;
  const sigmas = karrasSigmas(c.sigma_min ?? range![range!.length - 1]!, c.sigma_max ?? range![0]!, numInferenceSteps);
  return { sigmas, timesteps: sigmas.map((s) => sigmaToT(s, logSigmas)) };
}

/**
 * The settings of a diffusers `scheduler_config.json` object (same keys): `_`-prefixed and `ignored` keys are
 * dropped, unknown keys refused, null values dropped (the default applies) except where null is a setting.
 */
export function configFromJson(json: Record<string, unknown>, known: readonly string[], ignored: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    if (key.startsWith('_') || ignored.includes(key)) continue;
    if (!known.includes(key)) throw new Error(`scheduler config: unsupported key '${key}' (known: ${known.join(', ')})`);
    if (value !== null || key === 'trained_betas' || key === 'sigma_min' || key === 'sigma_max') out[key] = value;
  }
  return out;
}

/** f32 training betas as diffusers builds them. */
export function trainingBetas(c: DiscreteScheduleConfig): Float32Array {
  const n = c.num_train_timesteps;
  if (c.trained_betas) return Float32Array.from(c.trained_betas);
  if (c.beta_schedule === 'linear' || c.beta_schedule === 'scaled_linear') {
    // torch.linspace in f32 (libtorch's own kernel, so the rounding is the reference's)
    const scaled = c.beta_schedule === 'scaled_linear';
    const t = torch.linspace(scaled ? Math.sqrt(c.beta_start) : c.beta_start, scaled ? Math.sqrt(c.beta_end) : c.beta_end, n, 'f32');
    const lin = t.data<'f32'>();
    t.dispose();
    return scaled ? lin.map((b) => f32(b * b)) : lin;
  }
  if (c.beta_schedule === 'squaredcos_cap_v2') {
    const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
    return Float32Array.from({ length: n }, (_, i) => Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999));
  }
  throw new Error(`scheduler config: unknown beta_schedule '${c.beta_schedule as string}' (expected linear, scaled_linear or squaredcos_cap_v2)`);
}

/** cumprod(1 - betas) in f32; torch's CPU cumprod carries a float64 accumulator. */
export function alphasCumprod(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i]!);
    out[i] = acc;
  }
  return out;
}

/** sqrt((1 - ᾱ) / ᾱ) in f32, indexed by training timestep (increasing). */
export function trainingSigmas(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

/** np.linspace(start, stop, num) in float64. */
export function linspace64(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) { out[0] = start; return out; }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = step === 0 ? (i / (num - 1)) * (stop - start) + start : i * step + start;
  out[num - 1] = stop;
  return out;
}

/** The inference timesteps (f32, descending) for a spacing, before any Karras remapping. */
export function spacedTimesteps(c: DiscreteScheduleConfig, numInferenceSteps: number): Float32Array {
  const n = numInferenceSteps;
  const T = c.num_train_timesteps;
  if (c.timestep_spacing === 'linspace') return Float32Array.from(linspace64(0, T - 1, n)).reverse();
  if (c.timestep_spacing === 'leading') {
    const ratio = Math.floor(T / n);
    return Float32Array.from({ length: n }, (_, i) => f32(roundHalfEven((n - 1 - i) * ratio) + c.steps_offset));
  }
  if (c.timestep_spacing === 'trailing') {
    // np.arange(T, 0, -T/n).round() - 1; numpy fills an arange as start + i·((start + step) - start)
    const step = -T / n;
    const count = Math.ceil((0 - T) / step);
    const delta = (T + step) - T;
    return Float32Array.from({ length: count }, (_, i) => f32(roundHalfEven(T + i * delta) - 1));
  }
  throw new Error(`scheduler config: unknown timestep_spacing '${c.timestep_spacing as string}' (expected linspace, leading or trailing)`);
}

/** numpy's round: halves to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.interp(x, arange(len(fp)), fp) in float64 (fp is indexed by integer positions). */
export function interpIndex(x: ArrayLike<number>, fp: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  const last = fp.length - 1;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v <= 0) { out[i] = fp[0]!; continue; }
    if (v >= last) { out[i] = fp[last]!; continue; }
    const j = Math.floor(v);
    if (j === v) { out[i] = fp[j]!; continue; }
    const slope = fp[j + 1]! - fp[j]!;
    out[i] = slope * (v - j) + fp[j]!;
  }
  return out;
}

/** Karras et al. (2022) eq. 5 with rho = 7, in float64. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number, rho = 7): Float64Array {
  const ramp = linspace64(0, 1, n);
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return ramp.map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/**
 * A sigma's fractional training timestep: linear interpolation in log sigma between the two training
 * levels around it (diffusers' _sigma_to_t, with its f32/f64 mix).
 */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // the last index whose log sigma is <= logSigma (0 if none), clipped to len - 2
  let lowIdx = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i]! >= 0) lowIdx = i;
  lowIdx = Math.min(lowIdx, logSigmas.length - 2);
  const low = logSigmas[lowIdx]!;
  const high = logSigmas[lowIdx + 1]!;
  let w = (low - logSigma) / f32(low - high);
  w = Math.min(Math.max(w, 0), 1);
  return (1 - w) * lowIdx + w * (lowIdx + 1);
}

/**
 * 0.25·ln σ in f32, the continuous (EDM) timestep. The log is libtorch's on a 0-d f32 tensor, as the
 * reference takes it, since a double log rounded to f32 differs from it by one ulp for some σ.
 */
export function continuousTimesteps(sigmas: ArrayLike<number>): Float32Array {
  return Float32Array.from(sigmas, (s) => {
    const t = torch.full([], s, 'f32');
    const l = t.log();
    const v = f32(0.25 * l.item());
    t.dispose();
    l.dispose();
    return v;
  });
}

/** (sigma² + 1)^½ in f32, the input scaling (and, at the largest sigma, the initial noise std). */
export function inputScale(sigma: number): number {
  return f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
}

/**
 * The index of `timestep` in `schedule`; with repeats (Heun), the second occurrence, so that a run that
 * starts mid-schedule does not skip a sigma (as diffusers).
 */
export function indexForTimestep(timestep: number, schedule: Float32Array): number {
  const t = f32(timestep);
  const hits: number[] = [];
  schedule.forEach((s, i) => { if (s === t) hits.push(i); });
  if (!hits.length) throw new Error(`scheduler: timestep ${timestep} is not in the schedule [${[...schedule].slice(0, 4).join(', ')}, ...]`);
  return hits[hits.length > 1 ? 1 : 0]!;
}

/**
 * Where a discrete scheduler stands in its schedule (diffusers' step_index / begin_index): unset until the
 * first scaleModelInput or step, which looks the timestep up (or starts at the begin index).
 */
export class StepCursor {
  index: number | undefined;
  begin: number | undefined;

  /** The current index, set from `timestep` on first use. */
  at(timestep: number, timesteps: Float32Array): number {
    this.index ??= this.begin ?? indexForTimestep(timestep, timesteps);
    return this.index;
  }

  reset(): void {
    this.index = undefined;
    this.begin = undefined;
  }
}

/** The initial noise scale: the largest sigma, or the input-scaled one for 'leading' spacing (diffusers). */
export function initNoiseSigmaOf(sigmas: Float32Array, spacing: TimestepSpacing): number {
  const max = sigmas.reduce((a, b) => Math.max(a, b), 0);
  return spacing === 'linspace' || spacing === 'trailing' ? max : inputScale(max);
}

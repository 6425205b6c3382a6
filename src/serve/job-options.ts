// What a job asks for: the JSON schema the API validates (and documents in its OpenAPI), the data a job carries
// through the queue, and the library request it becomes in the worker. New library options are added here once:
// a schema property and its line in toAnimateRequest.
import type { AlignMethod } from '../align/align-frames.ts';
import type { AnimateRequest } from '../pipeline/stable-animator.ts';
import type { FitMode } from '../pipeline/framing.ts';

/**
 * align-frames.ts's ALIGN_METHODS, restated so that the API process does not load libtorch with it (measured: 280
 * vs ~100 MB RSS); the type below fails to compile if the two lists ever differ.
 */
const ALIGN_METHODS = ['learned', 'svd', 'polyfit', 'none'] as const satisfies readonly AlignMethod[];
export const alignMethodsComplete: Exclude<AlignMethod, (typeof ALIGN_METHODS)[number]> extends never ? true : never = true;
/** framing.ts's FIT_MODES, restated for the same reason. */
const FIT_MODES = ['crop', 'pad', 'stretch'] as const satisfies readonly FitMode[];
export const fitModesComplete: Exclude<FitMode, (typeof FIT_MODES)[number]> extends never ? true : never = true;

export interface JobOptions {
  width?: number;
  height?: number;
  /** Driving frames used (from the start). */
  frames: number;
  /** The rate the driving input is sampled at and the result plays at (default: the weights' training rate). */
  fps?: number;
  /** Every n-th driving frame instead of `fps`. */
  stride?: number;
  /** How the reference photo is fitted to the working size. */
  fit: FitMode;
  /** The driving video's audio into the result. */
  audio: boolean;
  steps: number;
  guidance: number;
  seed: number;
  align: AlignMethod;
  hjb: boolean;
  /** Name of a weights folder the server offers. */
  weights: string;
}

export const OPTION_DEFAULTS = { frames: 16, steps: 25, guidance: 3, seed: 23123134, align: 'learned', hjb: false, fit: 'crop', audio: true } as const;

export interface ServeLimits {
  /** Upload size in bytes. */
  uploadBytes: number;
  /** Frames of a driving upload and of a job. */
  frames: number;
  /** Output side in pixels. */
  side: number;
  steps: number;
}

/** The options' JSON schema; `weights` lists the folders the server offers (the first is the default). */
export function jobOptionsSchema(limits: ServeLimits, weights: readonly string[]) {
  const side = { type: 'integer', minimum: 64, maximum: limits.side, multipleOf: 64, description: 'output side in pixels (multiple of 64); default the weights\' own size' };
  return {
    type: 'object', additionalProperties: false,
    properties: {
      width: side, height: side,
      frames: { type: 'integer', minimum: 1, maximum: limits.frames, default: Math.min(OPTION_DEFAULTS.frames, limits.frames), description: 'driving frames used (after sampling), from the start' },
      fps: { type: 'number', exclusiveMinimum: 0, maximum: 60, description: 'the rate the driving input is sampled at and the result plays at; default the weights\' training rate' },
      stride: { type: 'integer', minimum: 1, maximum: 60, description: 'every n-th driving frame instead of fps' },
      fit: { type: 'string', enum: [...FIT_MODES], default: OPTION_DEFAULTS.fit, description: 'how the reference photo is fitted to the working size' },
      audio: { type: 'boolean', default: OPTION_DEFAULTS.audio, description: 'the driving video\'s audio into the result' },
      steps: { type: 'integer', minimum: 1, maximum: limits.steps, default: Math.min(OPTION_DEFAULTS.steps, limits.steps), description: 'denoising steps' },
      guidance: { type: 'number', minimum: 1, maximum: 20, default: OPTION_DEFAULTS.guidance, description: 'classifier-free guidance scale (1 = off)' },
      seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, default: OPTION_DEFAULTS.seed },
      align: { type: 'string', enum: [...ALIGN_METHODS], default: OPTION_DEFAULTS.align, description: 'pose alignment of the driving poses to the reference' },
      hjb: { type: 'boolean', default: OPTION_DEFAULTS.hjb, description: 'HJB face optimisation' },
      weights: { type: 'string', enum: [...weights], default: weights[0], description: 'weights folder (one the server offers)' },
    },
  } as const;
}

export type JobKind = 'animate' | 'preview';

/** A job in the queue. Paths are relative to the shared data folder and made by the server, never by a user. */
export interface JobData {
  reference: string;
  driving: { file: string } | { motion: string };
  options: JobOptions;
  /** The weights folder (the server's path for `options.weights`). */
  weightsDir: string;
  /** Upload ids, for the job list. */
  inputs: { reference: string; driving: string };
}

/** The library request for a job's options. */
export function toAnimateRequest(o: JobOptions): AnimateRequest {
  return {
    width: o.width, height: o.height, maxFrames: o.frames, numInferenceSteps: o.steps,
    minGuidanceScale: o.guidance, maxGuidanceScale: o.guidance, seed: o.seed, align: o.align,
    hjb: o.hjb ? {} : undefined, fps: o.fps, stride: o.stride, fit: o.fit, audio: o.audio,
  };
}

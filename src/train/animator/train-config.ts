// The settings of `stable-animator train --config train.json` (documented option by option in
// docs/training.md): defaults as the reference's `command_train.sh` / `train.py`, unknown keys and wrong types
// rejected with the file, the key, what was expected and what was found.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { BucketSpec } from './dataset.ts';
import { REFERENCE_BUCKETS } from './dataset.ts';
import type { TrainableSpec } from './trainable.ts';

export interface TrainConfig {
  /** Dataset root (<root>/{rec,vec}/<id>/{images,faces,poses}). */
  data: string;
  /** Output folder: checkpoints/, train.jsonl, loss.png, validation/, final/. */
  output: string;
  /** Released-layout weights folder (Animation/, stable-video-diffusion-img2vid-xt/, ...). */
  weights?: string;
  /** Single-file overrides (as `animate`). */
  unet?: string;
  poseNet?: string;
  faceEncoder?: string;
  svd?: string;
  /** glintr100_torch.pth (reference face embeddings when there is no ONNX model). */
  arcface?: string;
  /** antelopev2 glintr100.onnx: reference face embeddings and validation CSIM. */
  arcfaceOnnx?: string;
  /** Train PoseNet and the Face Encoder from their initialisation instead of the released weights (the paper). */
  fromScratch: boolean;
  buckets: BucketSpec[];
  numFrames: number;
  frameStride: number;
  /** Batches loaded ahead of the step. */
  prefetch: number;
  steps: number;
  batchSize: number;
  gradientAccumulation: number;
  lr: number;
  lrSchedule: 'constant' | 'cosine';
  warmupSteps: number;
  minLr: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  weightDecay: number;
  /** Global gradient-norm clip; 0 = off (the reference). */
  maxGradNorm: number;
  mixedPrecision: 'no' | 'bf16' | 'f16';
  gradientCheckpointing: boolean;
  /** EMA decay of the trained weights; 0 = off. */
  emaDecay: number;
  trainable: TrainableSpec;
  conditioningDropout: number;
  noiseAugStrength: number;
  fps: number;
  motionBucketId: number;
  sigmaSampling: 'reference' | 'lognormal';
  pMean: number;
  pStd: number;
  vaeEncodeChunk: number;
  /** Eq. 25's face-mask weighting (1 + M); false: the plain EDM-weighted loss (the paper's ablation). */
  faceMaskLoss: boolean;
  /** Faces of reference frames: ArcFace embeddings ('arcface', needs arcface/arcfaceOnnx) or zeros. */
  faceEmbeddings: 'arcface' | 'zeros';
  seed: number;
  logEvery: number;
  checkpointEvery: number;
  keepCheckpoints: number;
  validateEvery: number;
  validationFrames: number;
  validationSteps: number;
  validationGuidance: number;
  /** Clip folder used for validation; default the first clip. */
  validationClip?: string;
  device: string;
  threads: number;
  /** Write final/{unet,pose_net,face_encoder}.safetensors at the end (EMA weights when EMA is on). */
  exportWeights: boolean;
}

export const TRAIN_DEFAULTS: Omit<TrainConfig, 'data' | 'output'> = {
  fromScratch: false,
  buckets: [...REFERENCE_BUCKETS],
  numFrames: 16,
  frameStride: 4,
  prefetch: 2,
  steps: 10000,
  batchSize: 1,
  gradientAccumulation: 1,
  lr: 1e-5,
  lrSchedule: 'constant',
  warmupSteps: 0,
  minLr: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEps: 1e-8,
  weightDecay: 1e-2,
  maxGradNorm: 0,
  mixedPrecision: 'no',
  gradientCheckpointing: true,
  emaDecay: 0,
  trainable: { poseNet: true, faceEncoder: true, unet: 'attentions' },
  conditioningDropout: 0.1,
  noiseAugStrength: 0.02,
  fps: 7,
  motionBucketId: 127,
  sigmaSampling: 'reference',
  pMean: 0.7,
  pStd: 1.6,
  vaeEncodeChunk: 16,
  faceMaskLoss: true,
  faceEmbeddings: 'arcface',
  seed: 0,
  logEvery: 10,
  checkpointEvery: 2000,
  keepCheckpoints: 3,
  validateEvery: 500,
  validationFrames: 16,
  validationSteps: 25,
  validationGuidance: 3,
  device: 'cpu',
  threads: 0,
  exportWeights: true,
};

type Kind = 'string' | 'number' | 'posint' | 'int' | 'boolean' | 'prob';
const KINDS: Record<string, Kind | readonly string[]> = {
  data: 'string', output: 'string', weights: 'string', unet: 'string', poseNet: 'string', faceEncoder: 'string', svd: 'string',
  arcface: 'string', arcfaceOnnx: 'string', fromScratch: 'boolean', numFrames: 'posint', frameStride: 'posint', prefetch: 'posint',
  steps: 'posint', batchSize: 'posint', gradientAccumulation: 'posint', lr: 'number', lrSchedule: ['constant', 'cosine'],
  warmupSteps: 'int', minLr: 'number', adamBeta1: 'prob', adamBeta2: 'prob', adamEps: 'number', weightDecay: 'number',
  maxGradNorm: 'number', mixedPrecision: ['no', 'bf16', 'f16'], gradientCheckpointing: 'boolean', emaDecay: 'prob',
  conditioningDropout: 'prob', noiseAugStrength: 'number', fps: 'number', motionBucketId: 'number',
  sigmaSampling: ['reference', 'lognormal'], pMean: 'number', pStd: 'number', vaeEncodeChunk: 'posint', faceMaskLoss: 'boolean',
  faceEmbeddings: ['arcface', 'zeros'], seed: 'int', logEvery: 'posint', checkpointEvery: 'posint', keepCheckpoints: 'posint',
  validateEvery: 'int', validationFrames: 'posint', validationSteps: 'posint', validationGuidance: 'number', validationClip: 'string',
  device: 'string', threads: 'int', exportWeights: 'boolean', buckets: 'buckets' as Kind, trainable: 'trainable' as Kind,
};
const PATHS = ['data', 'output', 'weights', 'unet', 'poseNet', 'faceEncoder', 'svd', 'arcface', 'arcfaceOnnx', 'validationClip'];

function check(source: string, key: string, v: unknown): void {
  const kind = KINDS[key];
  const fail = (expected: string) => new Error(`${source}: '${key}' must be ${expected}, found ${JSON.stringify(v)}`);
  if (kind === undefined) throw new Error(`${source}: unknown option '${key}' (known: ${Object.keys(KINDS).join(', ')})`);
  if (Array.isArray(kind)) {
    if (!kind.includes(v as string)) throw fail(`one of ${kind.map((k) => `"${k}"`).join(', ')}`);
    return;
  }
  const n = v as number;
  switch (kind) {
    case 'string': if (typeof v !== 'string' || !v) throw fail('a non-empty string'); return;
    case 'boolean': if (typeof v !== 'boolean') throw fail('true or false'); return;
    case 'number': if (typeof v !== 'number' || !Number.isFinite(n) || n < 0) throw fail('a non-negative number'); return;
    case 'prob': if (typeof v !== 'number' || !(n >= 0 && n < 1)) throw fail('a number in [0, 1)'); return;
    case 'int': if (!Number.isInteger(v) || n < 0) throw fail('a non-negative integer'); return;
    case 'posint': if (!Number.isInteger(v) || n < 1) throw fail('a positive integer'); return;
    case 'buckets' as Kind: {
      const ok = Array.isArray(v) && v.length > 0 && v.every((b) => b && typeof b.name === 'string' && [b.width, b.height].every((x) => Number.isInteger(x) && x > 0 && x % 64 === 0));
      if (!ok) throw fail('a list of { "name", "width", "height" } with sizes multiples of 64');
      return;
    }
    case 'trainable' as Kind: {
      const t = v as Partial<TrainableSpec>;
      const unetOk = ['attentions', 'all', 'none'].includes(t?.unet as string) || (Array.isArray(t?.unet) && t.unet.every((s) => typeof s === 'string' && s));
      if (!(t && typeof t.poseNet === 'boolean' && typeof t.faceEncoder === 'boolean' && unetOk)) {
        throw fail('{ "poseNet": bool, "faceEncoder": bool, "unet": "attentions" | "all" | "none" | [name substrings] }');
      }
    }
  }
}

/** Defaults + `values`, checked; relative paths resolved against `baseDir`. */
export function resolveTrainConfig(values: Record<string, unknown>, source: string, baseDir = process.cwd()): TrainConfig {
  for (const [k, v] of Object.entries(values)) if (v !== undefined) check(source, k, v);
  for (const k of ['data', 'output']) if (values[k] === undefined) throw new Error(`${source}: '${k}' is required (expected a folder path), found nothing`);
  const c = { ...TRAIN_DEFAULTS, ...Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) } as TrainConfig;
  for (const k of PATHS) {
    const p = (c as unknown as Record<string, string | undefined>)[k];
    if (p !== undefined && !isAbsolute(p)) (c as unknown as Record<string, string>)[k] = resolve(baseDir, p);
  }
  if (c.validateEvery > 0 && c.validationFrames < 1) throw new Error(`${source}: 'validationFrames' must be at least 1`);
  return c;
}

export function readTrainConfig(path: string): TrainConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read the training config: ${(err as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${path}: expected a JSON object, found ${JSON.stringify(json)?.slice(0, 40)}`);
  return resolveTrainConfig(json as Record<string, unknown>, path, dirname(resolve(path)));
}

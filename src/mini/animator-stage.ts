// Stage 4 of the miniature recipe: the StableAnimator UNet (with ID-Adapters), PoseNet and the Face Encoder,
// trained from scratch together (the released model starts its UNet from SVD; there is no SVD for this
// domain) with the paper's face-weighted loss, through the same trainer as `stable-animator train`. The VAE and
// the image encoder come from stages 2-3 and stay frozen, as SVD's VAE and CLIP do; reference faces are
// embedded by the face-ID network on their mask's box.
//
// Two phases, as SVD itself grew from an image model: 4a single frames in batches (many identities and poses
// per step: the pose -> appearance mapping), then 4b clips of MINI_FRAMES frames from 4a's weights (the
// temporal layers). Each phase is its own resumable trainer run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.ts';
import { readSafetensors } from '../torch/serialization/index.ts';
import * as nn from '../nn/index.ts';
import { PoseNet } from '../models/animator/pose-net.ts';
import { StableAnimatorUNet } from '../models/animator/stable-animator-unet.ts';
import { FusionFaceId } from '../models/face/face-encoder.ts';
import type { IResNet } from '../models/face/iresnet.ts';
import { AutoencoderKLTemporalDecoder } from '../models/svd/autoencoder.ts';
import { CLIPVisionModelWithProjection } from '../models/svd/clip-vision.ts';
import type { StableAnimatorComponents } from '../pipeline/animate.ts';
import { EulerDiscreteScheduler, SVD_XT_SCHEDULER_CONFIG } from '../sampling/euler-discrete.ts';
import { resolveTrainConfig, type TrainConfig } from '../train/animator/train-config.ts';
import { trainAnimator, type DataParallel, type TrainAnimatorResult, type ValidationHook } from '../train/animator/trainer.ts';
import { MINI_FACE_TOKENS, MINI_FRAME_STRIDE, MINI_FRAMES, MINI_SIZE, MINI_UNET_CONFIG } from './configs.ts';
import { faceIdEmbedder } from './face-id-embedder.ts';

export interface MiniAnimatorOptions {
  data: string;
  outDir: string;
  vaeDir: string;
  imageEncoderDir: string;
  faceId: IResNet;
  steps: number;
  unetConfig?: Record<string, unknown>;
  size?: number;
  /** Options of train.json (docs/training.md) over the recipe's. */
  train?: Record<string, unknown>;
  seed?: number;
  stopAfter?: number;
  /** Model switches of the paper's ablations (default: the full model). */
  variant?: MiniVariant;
  /** Frames per sample (default MINI_FRAMES) and samples per step and process (default 1). */
  numFrames?: number;
  batchSize?: number;
  /** A trainer's final/ folder (an earlier phase) to start from instead of the seeded initialisation. */
  initFrom?: string;
  parallel?: DataParallel;
  validate?: (components: StableAnimatorComponents) => Promise<ValidationHook>;
  log?: (line: string) => void;
}

/** The ablations' model switches: ID-Adapter distribution alignment, Face Encoder refinement (both true: full). */
export interface MiniVariant {
  alignDistribution?: boolean;
  refineFaceTokens?: boolean;
}

/**
 * Untrained UNet, PoseNet and Face Encoder around the trained VAE and image encoder; the token width of the
 * UNet's cross-attention and of the face tokens is the image encoder's projection width.
 */
export function miniComponents(o: {
  vaeDir: string; imageEncoderDir: string; faceIdDim: number; unetConfig?: Record<string, unknown>; seed: number; variant?: MiniVariant;
}): StableAnimatorComponents {
  const imageEncoder = CLIPVisionModelWithProjection.fromPretrained(o.imageEncoderDir);
  const tokens = imageEncoder.config.projection_dim;
  const unetConfig = miniUnetConfig(tokens, o.unetConfig);
  const built = nn.withInit({ seed: o.seed }, () => ({
    unet: StableAnimatorUNet.fromConfig(unetConfig, { numFaceTokens: MINI_FACE_TOKENS, alignDistribution: o.variant?.alignDistribution }),
    poseNet: new PoseNet((unetConfig.block_out_channels as number[])[0]!),
    faceEncoder: new FusionFaceId(tokens, o.faceIdDim, tokens, MINI_FACE_TOKENS, { refine: o.variant?.refineFaceTokens }),
  }));
  return {
    ...built, imageEncoder,
    vae: AutoencoderKLTemporalDecoder.fromPretrained(o.vaeDir),
    scheduler: EulerDiscreteScheduler.fromConfig(SVD_XT_SCHEDULER_CONFIG),
  };
}

/** The UNet config for image/face tokens of width `tokenDim`. */
export function miniUnetConfig(tokenDim: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...MINI_UNET_CONFIG, cross_attention_dim: tokenDim, ...overrides };
}

export function miniTrainConfig(o: MiniAnimatorOptions): TrainConfig {
  const size = o.size ?? MINI_SIZE;
  return resolveTrainConfig({
    data: o.data, output: o.outDir, fromScratch: true, buckets: [{ name: 'rec', width: size, height: size }],
    numFrames: o.numFrames ?? MINI_FRAMES, batchSize: o.batchSize ?? 1, frameStride: MINI_FRAME_STRIDE, steps: o.steps, lr: 3e-4, lrSchedule: 'cosine', warmupSteps: Math.min(100, Math.floor(o.steps / 10)),
    minLr: 2e-5, maxGradNorm: 1, gradientCheckpointing: false, emaDecay: 0.99,
    trainable: { poseNet: true, faceEncoder: true, unet: 'all' }, faceEmbeddings: 'arcface', seed: o.seed ?? 0,
    logEvery: 25, checkpointEvery: 250, keepCheckpoints: 2, validateEvery: 0, vaeEncodeChunk: MINI_FRAMES, threads: 0,
    ...o.train,
  }, 'miniature recipe');
}

export async function trainMiniAnimator(o: MiniAnimatorOptions): Promise<TrainAnimatorResult & { components: StableAnimatorComponents }> {
  const config = miniTrainConfig(o);
  const components = miniComponents({
    vaeDir: o.vaeDir, imageEncoderDir: o.imageEncoderDir, faceIdDim: o.faceId.config.num_features, unetConfig: o.unetConfig, seed: config.seed, variant: o.variant,
  });
  if (o.initFrom) loadAnimatorWeights(components, o.initFrom);
  components.faceRecognizer = o.faceId;
  const validate = o.validate && (o.parallel?.rank ?? 0) === 0 ? await o.validate(components) : undefined;
  const result = await trainAnimator({
    config, components, faceEmbedding: faceIdEmbedder(o.faceId), stopAfter: o.stopAfter, parallel: o.parallel, validate, log: o.log,
  });
  return { ...result, components };
}

/** The trained modules from a trainer's final/ folder (unet, pose_net, face_encoder .safetensors). */
export function loadAnimatorWeights(components: StableAnimatorComponents, dir: string): void {
  const files = [[components.unet, 'unet.safetensors'], [components.poseNet, 'pose_net.safetensors'], [components.faceEncoder, 'face_encoder.safetensors']] as const;
  for (const [module, file] of files) {
    const path = join(dir, file);
    const state = new Map([...readSafetensors(path)].map(([k, t]) => [k, torch.fromRaw(t)]));
    module.loadStateDict(state, { strict: true, source: path });
    for (const t of state.values()) t.dispose();
  }
}

/**
 * Stage 4 whole: phase 4a (single frames, `imageBatch` per step and process, into `imageOutDir`) when
 * `imageSteps` > 0, then phase 4b (clips, into `outDir`) from 4a's final weights. Each phase resumes after a
 * kill; a finished 4a is not run again. In a process group, every rank waits for rank 0's 4a export.
 */
export async function trainMiniAnimatorPhases(o: MiniAnimatorOptions & { imageOutDir: string; imageSteps: number; imageBatch: number }): Promise<TrainAnimatorResult & { components: StableAnimatorComponents }> {
  const imageFinal = join(o.imageOutDir, 'final');
  if (o.imageSteps > 0 && !existsSync(join(imageFinal, 'unet.safetensors'))) {
    await trainMiniAnimator({ ...o, outDir: o.imageOutDir, steps: o.imageSteps, train: { ...o.train, numFrames: 1, batchSize: o.imageBatch } });
  }
  if (o.parallel) (await import('../torch/distributed.ts')).barrier();
  return trainMiniAnimator({ ...o, initFrom: o.imageSteps > 0 ? imageFinal : o.initFrom });
}

// The StableAnimator(++) animation pipeline: a reference image and a sequence of (aligned) skeleton images in,
// video frames out. It reads top to bottom as the steps of the reference's `inference_pipeline_animation.py`
// (itself diffusers' SVD pipeline with MimicMotion's windows):
//
//   0. check inputs            4. reference latent (VAE)        8. windows, blend weights, guidance per frame
//   1. CLIP image embedding    5. added time ids                9. HJB face optimisation (optional)
//   2. face tokens             6. timesteps                    10. denoising loop
//   3. encoder states          7. initial noise (tiled)        11. decode
//
// Differences from the reference, all deliberate:
//   - guidance 1.0 runs one (conditional) pass; the reference batches two passes at >= 1 but combines at > 1;
//   - a video shorter than a window is one window (the reference raises IndexError);
//   - a missing face gives zero face tokens with a warning (`missingFace: 'zero-embedding'` feeds the Face
//     Encoder a zero ArcFace embedding instead, as the reference's last fallback does);
//   - a decode that runs out of memory is retried with half the frames per chunk, with a warning.
// Each stage runs its models where the placement says (placement.ts: per-model devices, CPU offload).
// Every random draw comes from one explicit generator (seed), in the reference's order: the reference's
// noise augmentation, then the initial latents.
import * as torch from '../torch/index.ts';
import type { DType, Device, Tensor } from '../torch/index.ts';
import { checkFrameSides } from '../io/limits.ts';
import type * as nn from '../nn/index.ts';
import { PoseNet } from '../models/animator/pose-net.ts';
import type { FusionFaceId } from '../models/face/face-encoder.ts';
import type { IResNet } from '../models/face/iresnet.ts';
import type { AutoencoderKLTemporalDecoder } from '../models/svd/autoencoder.ts';
import type { CLIPVisionModelWithProjection } from '../models/svd/clip-vision.ts';
import { clipPreprocess } from '../models/svd/image-preprocess.ts';
import type { UNetSpatioTemporalConditionModel } from '../models/svd/unet.ts';
import type { Scheduler } from '../sampling/scheduler.ts';
import { slidingWindows, weightSums, type Window } from '../sampling/windows.ts';
import { latentFactor } from './hjb-window.ts';
import { HjbFaceOptimizer, type HjbFaceTarget, type HjbOptions, type HjbStepReport } from './hjb.ts';
import { deviceOf, placementOf, withModels, type ModelName, type Placement } from './placement.ts';

export interface StableAnimatorComponents {
  /** The StableAnimator UNet (SVD UNet with numFaceTokens and ID-Adapters; see StableAnimatorUNet). */
  unet: UNetSpatioTemporalConditionModel;
  vae: AutoencoderKLTemporalDecoder;
  imageEncoder: CLIPVisionModelWithProjection;
  poseNet: PoseNet;
  faceEncoder: FusionFaceId;
  scheduler: Scheduler;
  /** ArcFace iResNet (glintr100) for the HJB face loss; needed only with HJB. */
  faceRecognizer?: IResNet;
  /** Where each model runs and rests (loadComponents sets it); used with offload, else the models run where they are. */
  placement?: Placement;
}

export interface AnimateInputs {
  /** The reference image at the output size, [1,3,H,W] or [3,H,W] in [-1,1] (the VAE path). */
  reference: Tensor;
  /** The reference at its original size in [-1,1] (the CLIP path, which resizes it itself). Default `reference`. */
  referenceOriginal?: Tensor;
  /** Skeleton images at the output size, [F,3,H,W] in [-1,1] (pose/127.5 − 1). */
  poses: Tensor;
  /** The raw (un-normalised) ArcFace embedding of the reference's largest face, [D] or [1,D]; null: no face. */
  faceEmbedding: Tensor | null;
  /** Face boxes for HJB (required when `hjb` is given). */
  faceTarget?: HjbFaceTarget;
}

export type WindowBlend = 'noise' | 'latents';

export interface AnimateOptions {
  numInferenceSteps?: number;
  /** Guidance rises linearly over the frames from min to max (reference: linspace per frame). Defaults 1 and 3. */
  minGuidanceScale?: number;
  maxGuidanceScale?: number;
  /** Frame rate the model is conditioned on (as fps − 1). Default 7. */
  fps?: number;
  motionBucketId?: number;
  /** Std of the Gaussian noise added to the reference before the VAE (and a time id). Default 0.02. */
  noiseAugStrength?: number;
  /** Frames per window (default 16) and the overlap of consecutive windows (default 4). */
  tileSize?: number;
  tileOverlap?: number;
  /**
   * How windows are merged. 'noise' (default, the reference): noise predictions blended with triangular
   * weights. 'latents' (ControlNeXt-SVD): each window takes its own step and the stepped latents are averaged
   * uniformly; the Euler step is affine in the model output with the latent shared, so this is computed as
   * one step on the uniformly averaged window outputs (identical for Euler).
   */
  blend?: WindowBlend;
  /** Frames decoded at a time; default all. Halved (with a warning) while the decode runs out of memory. */
  decodeChunkSize?: number;
  /**
   * Windows denoised in one UNet call (default 1, as the reference): fewer, larger calls use the cores (or the
   * GPU) better at the cost of memory. Results equal one call per window up to floating-point summation order.
   */
  windowsPerCall?: number;
  /** CFG's conditional and unconditional branches in one call (default false, as the reference). */
  batchGuidance?: boolean;
  /** 'frames' (default): decode; 'latents': stop after denoising (diffusers' output_type="latent"). */
  outputType?: 'frames' | 'latents';
  seed?: number;
  /** Takes precedence over seed. */
  generator?: torch.Generator;
  missingFace?: 'zero-tokens' | 'zero-embedding';
  /** HJB face optimisation; off when undefined. Needs `faceRecognizer` and `inputs.faceTarget`. */
  hjb?: HjbOptions;
  onProgress?: (p: StepProgress) => void;
  /**
   * A live preview: after each denoising step, the first frame of the sampler's clean estimate, decoded
   * ([3, H, W] in [0, 1], f32, CPU; freed after the call). Only while that decode costs at most a tenth of the
   * step (then it stops), and never with offload (the VAE would have to move every step).
   */
  onPreviewFrame?: (frame: Tensor, step: number) => void;
  onWarning?: (message: string) => void;
  /** Called as each stage starts, with the device of every model at that moment (the placement at work). */
  onPlaced?: (stage: PipelineStage, devices: Partial<Record<ModelName, Device>>) => void;
}

export type PipelineStage = 'clip' | 'face-encoder' | 'vae-encode' | 'denoise' | 'decode';

export interface StepProgress {
  phase: 'denoise' | 'decode';
  /** Steps done (1-based) and their total. */
  step: number;
  total: number;
  elapsedSeconds: number;
  etaSeconds: number;
  hjb?: HjbStepReport;
}

export interface AnimateResult {
  /** [F,3,H,W] in [0,1], f32 (undefined with outputType 'latents'). */
  frames?: Tensor;
  /** The final latents [1,F,4,h,w] (f32, scaled as the UNet sees them). */
  latents: Tensor;
  hjb: HjbStepReport[];
  warnings: string[];
}

export const ANIMATE_DEFAULTS = {
  numInferenceSteps: 25, minGuidanceScale: 1.0, maxGuidanceScale: 3.0, fps: 7, motionBucketId: 127, noiseAugStrength: 0.02,
  tileSize: 16, tileOverlap: 4, blend: 'noise' as WindowBlend, seed: 23123134,
};

/**
 * What `animate` and the library (StableAnimator) use: the pipeline's defaults (diffusers' SVD pipeline, guidance
 * rising 1 -> 3) with StableAnimator's inference guidance, 3.0 on every frame.
 */
export const INFERENCE_DEFAULTS = { ...ANIMATE_DEFAULTS, minGuidanceScale: 3.0, maxGuidanceScale: 3.0 };

/** Spatial factor from pixels to the UNet's deepest level: 8 (VAE) x 8 (three downsamples). */
export const SIZE_MULTIPLE = 64;

export function checkOutputSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || width % SIZE_MULTIPLE || height % SIZE_MULTIPLE) {
    throw new Error(`unsupported size ${width}x${height}: width and height must be positive multiples of ${SIZE_MULTIPLE} (e.g. 512x512, 576x1024)`);
  }
  checkFrameSides('output size', width, height);
}

const paramOf = (m: nn.Module): Tensor => {
  const p = m.parameters()[0];
  if (!p) throw new Error(`${m.constructor.name} has no parameters`);
  return p;
};

/** The chunk to retry a decode with after it ran out of memory at `chunk` frames (undefined: at one, give up). */
export function smallerDecodeChunk(chunk: number): number | undefined {
  return chunk > 1 ? Math.ceil(chunk / 2) : undefined;
}

type ResolvedOptions = typeof ANIMATE_DEFAULTS & AnimateOptions;

interface Conditions {
  /** [1, 1 + face tokens, D] in the UNet's dtype; the unconditional branch's are zeros. */
  encoderStates: Tensor;
  encoderStatesUncond: Tensor;
  /** [1, 1, 4, h, w] f32. */
  refLatent: Tensor;
  addedTimeIds: Tensor;
}

/** PoseNet features kept for all frames up to this size (PoseFeatures). */
const POSE_FEATURE_CACHE_BYTES = 256 * 1024 * 1024;

/** Window frame indices -> PoseNet's features of those frames, concatenated. */
type PoseFeatures = (idx: Tensor[]) => Tensor;

interface WindowPlan {
  windows: Window[];
  windowsPerCall: number;
  /** Per-frame sum of the blend weights [1,F,1,1,1]; guidance per frame [1,F,1,1,1]. */
  sums: Tensor;
  guidance: Tensor;
  guided: boolean;
}

/** 0. The reference [1,3,H,W] and poses [F,3,H,W] at one size that the model takes. */
function checkInputs(inputs: AnimateInputs, numInferenceSteps: number): { reference: Tensor; poses: Tensor } {
  const reference = inputs.reference.ndim === 3 ? inputs.reference.unsqueeze(0) : inputs.reference;
  if (reference.ndim !== 4 || reference.size(0) !== 1 || reference.size(1) !== 3) {
    throw new Error(`animate: the reference must be [1,3,H,W] or [3,H,W], got [${inputs.reference.shape}]`);
  }
  const [height, width] = reference.shape.slice(2);
  checkOutputSize(width, height);
  const poses = inputs.poses;
  if (poses.ndim !== 4 || poses.size(1) !== 3 || poses.size(2) !== height || poses.size(3) !== width) {
    throw new Error(`animate: poses must be [frames,3,${height},${width}] (the reference's size), got [${poses.shape}]`);
  }
  if (poses.size(0) < 1) throw new Error('animate: no pose frames');
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) throw new Error(`animate: numInferenceSteps must be a positive integer, got ${numInferenceSteps}`);
  return { reference, poses };
}

/** The overlapping windows with their blend weights, their per-frame sums, and the frame-wise guidance. */
function windowPlan(numFrames: number, o: ResolvedOptions, device: Device): WindowPlan {
  const windows: Window[] = slidingWindows(numFrames, o.tileSize, o.tileOverlap)
    .map((w) => (o.blend === 'latents' ? { ...w, weights: w.weights.map(() => 1) } : w));
  const weightSum = weightSums(numFrames, windows);
  const uncovered = weightSum.findIndex((w) => !(w > 0));
  if (uncovered >= 0) {
    throw new Error(`animate: frame ${uncovered} is in no window (tile ${o.tileSize}, overlap ${o.tileOverlap}): ` +
      'every window spends one frame on the anchor frame 0, so the overlap must be at least 1');
  }
  return {
    windows,
    windowsPerCall: Math.max(1, Math.min(o.windowsPerCall ?? 1, windows.length)),
    sums: torch.tensor(weightSum, { dtype: 'f32' }).reshape([1, numFrames, 1, 1, 1]).to(device),
    guidance: torch.linspace(o.minGuidanceScale, o.maxGuidanceScale, numFrames, 'f32').reshape([1, numFrames, 1, 1, 1]).to(device),
    guided: o.minGuidanceScale !== 1 || o.maxGuidanceScale !== 1,
  };
}

export class StableAnimatorPipeline {
  readonly placement: Placement;

  /** Components are used for inference only: eval mode, every weight frozen. */
  constructor(readonly components: StableAnimatorComponents) {
    const { unet, vae, imageEncoder, poseNet, faceEncoder, faceRecognizer } = components;
    for (const m of [unet, vae, imageEncoder, poseNet, faceEncoder, faceRecognizer]) m?.eval().requiresGrad_(false);
    // without offload the models run where they are (also after a caller moved them)
    this.placement = components.placement?.offload ? components.placement
      : placementOf({ device: deviceOf(unet), vaeDevice: deviceOf(vae), imageEncoderDevice: deviceOf(imageEncoder) });
  }

  /** Where the UNet runs: the device of the latents. */
  get device(): Device {
    return this.placement.run.unet;
  }

  get dtype(): DType {
    return paramOf(this.components.unet).dtype;
  }

  /** prepare (prepare.ts) -> 1. encode the conditions -> 2. denoise -> 3. decode. */
  call(inputs: AnimateInputs, options: AnimateOptions = {}): AnimateResult {
    const o = { ...ANIMATE_DEFAULTS, ...options };
    const warnings: string[] = [];
    const warn = (m: string) => { warnings.push(m); options.onWarning?.(m); };
    const generator = options.generator ?? new torch.Generator(o.seed);
    const { run } = this.placement;
    if (o.hjb && run.vae !== run.unet) throw new Error(`animate: HJB face optimisation needs the VAE where the UNet runs (${run.unet}), not on ${run.vae}`);
    return torch.noGrad(() => torch.scope(() => {
      const { reference, poses } = checkInputs(inputs, o.numInferenceSteps);
      const conditions = this.encodeConditions(reference, inputs, o, generator, warn);
      const hjbModels: ModelName[] = o.hjb ? ['vae', 'faceRecognizer'] : [];
      const { latents, hjb } = this.stage(['unet', 'poseNet', ...hjbModels], 'denoise', o, () => this.denoise(conditions, poses, reference, inputs, o, generator));
      if (options.outputType === 'latents') return { latents, hjb, warnings };
      return { frames: this.stage(['vae'], 'decode', o, () => this.decode(latents, o, warn)), latents, hjb, warnings };
    }));
  }

  /** Runs fn with the named models on their devices (moved there and back with offload). */
  private stage<T>(models: ModelName[], name: PipelineStage, o: AnimateOptions, fn: () => T): T {
    return withModels(this.components, this.placement, models, name, fn, o.onPlaced);
  }

  /** Tensors in a model's dtype and on its run device. */
  private on(t: Tensor, name: ModelName): Tensor {
    return t.to(paramOf(this.components[name]!).dtype).to(this.placement.run[name]);
  }

  /**
   * 1. The conditions: the CLIP image embedding of the reference (one token), the Face Encoder's tokens from
   * the ArcFace embedding refined with it, the reference latent (VAE posterior mode of the noise-augmented
   * reference, NOT scaled by the VAE factor), the added time ids [fps − 1, motion bucket, noise augmentation].
   * The unconditional branch gets zeros for all but the time ids.
   */
  private encodeConditions(reference: Tensor, inputs: AnimateInputs, o: ResolvedOptions, generator: torch.Generator, warn: (m: string) => void): Conditions {
    const { vae, imageEncoder, faceEncoder } = this.components;
    const device = this.device;
    const original = inputs.referenceOriginal ?? reference;
    const clipEmbeds = this.stage(['imageEncoder'], 'clip', o, () => torch.scope(() => {
      const pixels = clipPreprocess((original.ndim === 3 ? original.unsqueeze(0) : original).to('f32').to(this.placement.run.imageEncoder), { size: imageEncoder.config.image_size });
      return imageEncoder.forward(this.on(pixels, 'imageEncoder')).imageEmbeds.to('f32').unsqueeze(1).to(device);
    }));
    let faceTokens: Tensor;
    const { cross_attention_dim: crossAttentionDim, id_embeddings_dim: idEmbeddingsDim, num_tokens: numTokens } = faceEncoder.config;
    if (inputs.faceEmbedding || o.missingFace === 'zero-embedding') {
      if (!inputs.faceEmbedding) warn('no face in the reference: the Face Encoder gets a zero ArcFace embedding');
      const id = inputs.faceEmbedding ? inputs.faceEmbedding.reshape([1, -1]) : torch.zeros([1, idEmbeddingsDim]);
      if (id.size(1) !== idEmbeddingsDim) throw new Error(`animate: the face embedding has ${id.size(1)} values, the Face Encoder takes ${idEmbeddingsDim}`);
      faceTokens = this.stage(['faceEncoder'], 'face-encoder', o, () => faceEncoder.forward(this.on(id, 'faceEncoder'), this.on(clipEmbeds, 'faceEncoder')).to('f32').to(device));
    } else {
      warn('no face in the reference: running without face tokens (zeros); identity will be weaker');
      faceTokens = torch.zeros([1, numTokens, crossAttentionDim], 'f32', undefined, device);
    }
    const encoderStates = this.on(torch.cat([clipEmbeds, faceTokens], 1), 'unet');
    const augNoise = torch.randn(reference.shape, generator).to(device);
    const refLatent = this.stage(['vae'], 'vae-encode', o, () => torch.scope(() => {
      const noisy = reference.to('f32').to(device).add(augNoise.mul(o.noiseAugStrength));
      return vae.encode(this.on(noisy, 'vae')).mode().to('f32').unsqueeze(1).to(device); // [1, 1, 4, h, w]
    }));
    const [height, width] = reference.shape.slice(2);
    const [latentH, latentW] = refLatent.shape.slice(-2);
    const factor = latentFactor(vae);
    if (latentH * factor !== height || latentW * factor !== width) {
      throw new Error(`animate: the VAE maps ${width}x${height} to a ${latentW}x${latentH} latent, not 1/${factor} of the image: the size must be a multiple of ${factor}`);
    }
    const addedTimeIds = torch.tensor([[o.fps - 1, o.motionBucketId, o.noiseAugStrength]], { dtype: 'f32' }).to(device);
    return { encoderStates, encoderStatesUncond: torch.zerosLike(encoderStates), refLatent, addedTimeIds };
  }

  /**
   * 2. Denoising: initial noise for one window repeated over the video (periodic with the window length, as the
   * reference draws it), then per step the blended, guided noise prediction (predictNoise) and the sampler's
   * update, HJB handing it the face-optimised clean latent on its active steps.
   */
  private denoise(c: Conditions, poses: Tensor, reference: Tensor, inputs: AnimateInputs, o: ResolvedOptions, generator: torch.Generator): { latents: Tensor; hjb: HjbStepReport[] } {
    const { unet, scheduler } = this.components;
    const numFrames = poses.size(0);
    scheduler.setTimesteps(o.numInferenceSteps);
    const timesteps = scheduler.timesteps;
    const [latentH, latentW] = c.refLatent.shape.slice(-2);
    const poseFeatures = this.poseFeatures(PoseNet.inputAt(poses, latentH, latentW), latentH, latentW);
    const tile = Math.min(o.tileSize, numFrames);
    const windowNoise = torch.randn([1, o.tileSize, unet.config.out_channels, latentH, latentW], generator).narrow(1, 0, tile);
    let latents = windowNoise.repeat([1, Math.floor(numFrames / tile) + 1, 1, 1, 1]).narrow(1, 0, numFrames)
      .mul(scheduler.initNoiseSigma).contiguous().to(this.device);
    const plan = windowPlan(numFrames, o, this.device);
    const hjb = o.hjb ? this.hjbOptimizer(reference, inputs, o.hjb, numFrames) : undefined;
    if (hjb && scheduler.order !== 1) throw new Error('animate: HJB face optimisation needs a first-order sampler (Euler)');
    const reports: HjbStepReport[] = [];
    const start = performance.now();
    let preview = o.onPreviewFrame && !this.placement.offload ? this.previewer(o.onPreviewFrame, start, () => { preview = undefined; }) : undefined;
    for (let i = 0; i < timesteps.length; i++) {
      const t = timesteps[i]!;
      const next = torch.scope(() => {
        const noisePred = this.predictNoise(latents, t, c, poseFeatures, plan, o);
        const refineOriginal = hjb?.isActive(i) ? (x0: Tensor) => {
          const { z0, report } = hjb.optimize(x0, i, o.numInferenceSteps);
          reports.push(report);
          return z0;
        } : undefined;
        const out = scheduler.step(noisePred, t, latents, { refineOriginal });
        if (preview) preview(out.predOriginalSample, i + 1);
        return out.prevSample;
      });
      latents.dispose();
      latents = next;
      const elapsed = (performance.now() - start) / 1000;
      o.onProgress?.({
        phase: 'denoise', step: i + 1, total: timesteps.length, elapsedSeconds: elapsed,
        etaSeconds: (elapsed / (i + 1)) * (timesteps.length - i - 1), hjb: hjb?.isActive(i) ? reports[reports.length - 1] : undefined,
      });
    }
    hjb?.dispose();
    return { latents, hjb: reports };
  }

  /**
   * PoseNet's features of frames (the windows' frame indices -> [frames, C, h, w] on the UNet's device). The poses
   * are the same at every step, so the features of all frames are computed once when they take at most
   * POSE_FEATURE_CACHE_BYTES (the miniature's 16 frames: 2 MB; the released model's 16 frames at 576x1024:
   * 189 MB in f32), else per window and step as the reference does.
   */
  private poseFeatures(poses: Tensor, latentH: number, latentW: number): PoseFeatures {
    const { poseNet } = this.components;
    const run = (p: Tensor) => this.on(poseNet.forward(this.on(p, 'poseNet')), 'unet');
    const gather = (idx: Tensor[]) => torch.cat(idx.map((i) => poses.indexSelect(0, i.to(poses.device))), 0);
    const bytes = poses.size(0) * poseNet.final_proj.weight.size(0) * latentH * latentW * (this.dtype === 'f32' ? 4 : 2);
    if (bytes > POSE_FEATURE_CACHE_BYTES) return (idx) => run(gather(idx));
    const all = run(poses);
    return (idx) => torch.cat(idx.map((i) => all.indexSelect(0, i.to(all.device))), 0);
  }

  /**
   * The noise prediction of one step: per window (PoseNet on its poses; `windowsPerCall` windows and, with
   * `batchGuidance`, both CFG branches in one UNet call), blended by frame, then classifier-free guidance
   * with the frame-wise scale.
   */
  private predictNoise(latents: Tensor, t: number, c: Conditions, poses: PoseFeatures, plan: WindowPlan, o: ResolvedOptions): Tensor {
    const { scheduler } = this.components;
    const device = this.device;
    let cond = torch.zerosLike(latents);
    let uncond = plan.guided ? torch.zerosLike(latents) : undefined;
    for (let g = 0; g < plan.windows.length; g += plan.windowsPerCall) {
      const group = plan.windows.slice(g, g + plan.windowsPerCall);
      [cond, uncond] = torch.scope(() => {
        const n = group.length;
        const idx = group.map((w) => torch.tensor(w.frames, { dtype: 'i64' }).to(device));
        const x = torch.cat(idx.map((i) => scheduler.scaleModelInput(latents.indexSelect(1, i), t)), 0); // [n,F,C,h,w]
        const ref = c.refLatent.expand([n, x.size(1), -1, -1, -1]);
        const pose = poses(idx);
        const states = c.encoderStates.expand([n, -1, -1]);
        const ids = c.addedTimeIds.expand([n, -1]);
        let pc: Tensor, pu: Tensor | undefined;
        if (uncond && o.batchGuidance) {
          // both branches in one call; zero pose features are the reference's pose_latents=None (added after conv_in)
          const both = this.predict(torch.cat([torch.cat([x, ref], 2), torch.cat([x, torch.zerosLike(ref)], 2)], 0), t,
            torch.cat([states, c.encoderStatesUncond.expand([n, -1, -1])], 0), torch.cat([ids, ids], 0), torch.cat([pose, torch.zerosLike(pose)], 0));
          [pc, pu] = [both.narrow(0, 0, n), both.narrow(0, n, n)];
        } else {
          pc = this.predict(torch.cat([x, ref], 2), t, states, ids, pose);
          pu = uncond && this.predict(torch.cat([x, torch.zerosLike(ref)], 2), t, c.encoderStatesUncond.expand([n, -1, -1]), ids);
        }
        let [nc, nu] = [cond, uncond];
        group.forEach((w, k) => {
          const weights = torch.tensor(w.weights, { dtype: 'f32' }).reshape([1, -1, 1, 1, 1]).to(device);
          nc = nc.indexPut([undefined, idx[k]!], pc.narrow(0, k, 1).mul(weights), true);
          if (pu) nu = nu!.indexPut([undefined, idx[k]!], pu.narrow(0, k, 1).mul(weights), true);
        });
        return [nc, nu] as const;
      });
    }
    cond = cond.div(plan.sums);
    uncond = uncond?.div(plan.sums);
    return uncond ? uncond.add(plan.guidance.mul(cond.sub(uncond))) : cond;
  }

  /**
   * 3. Decode: latents / the VAE's scaling factor, in chunks; [-1,1] -> [0,1]. A chunk that runs out of memory
   * is retried at half the frames (the temporal decoder sees fewer frames together: results differ slightly).
   */
  private decode(latents: Tensor, o: ResolvedOptions, warn: (m: string) => void): Tensor {
    const { vae } = this.components;
    const start = performance.now();
    const numFrames = latents.size(1);
    let chunk = Math.min(o.decodeChunkSize && o.decodeChunkSize > 0 ? o.decodeChunkSize : numFrames, numFrames);
    let frames: Tensor | undefined;
    while (!frames) {
      try {
        frames = torch.scope(() => {
          const z = latents.squeeze(0).div(vae.scalingFactor);
          return vae.decodeChunked(this.on(z, 'vae'), chunk).to('f32').div(2).add(0.5).clamp(0, 1);
        });
      } catch (e) {
        const smaller = torch.isOutOfMemoryError(e) ? smallerDecodeChunk(chunk) : undefined;
        if (smaller === undefined) throw e;
        warn(`decoding ${chunk} frame(s) at a time ran out of memory on ${this.placement.run.vae}; retrying ${smaller} at a time (--decode-chunk ${smaller})`);
        chunk = smaller;
      }
    }
    o.onProgress?.({ phase: 'decode', step: 1, total: 1, elapsedSeconds: (performance.now() - start) / 1000, etaSeconds: 0 });
    return frames;
  }

  /** Decodes the first frame of a step's clean estimate for `emit`; calls `stop` once that costs over a tenth of the step. */
  private previewer(emit: (frame: Tensor, step: number) => void, start: number, stop: () => void): (x0: Tensor, step: number) => void {
    const { vae } = this.components;
    let stepStart = start;
    return (x0, step) => {
      const decodeStart = performance.now();
      torch.noGrad(() => torch.scope(() => {
        const z = x0.reshape([-1, ...x0.shape.slice(-3)]).narrow(0, 0, 1).div(vae.scalingFactor);
        emit(vae.decode(this.on(z, 'vae'), 1).to('f32').div(2).add(0.5).clamp(0, 1).squeeze(0).to('cpu'), step);
      }));
      const end = performance.now();
      if (end - decodeStart > 0.1 * (decodeStart - stepStart)) stop();
      stepStart = end;
    };
  }

  /** One UNet pass -> f32 prediction [1, n, 4, h, w]. */
  private predict(sample: Tensor, t: number, encoderStates: Tensor, addedTimeIds: Tensor, poseLatents?: Tensor): Tensor {
    const { unet } = this.components;
    const dtype = paramOf(unet).dtype;
    return unet.forward(sample.to(dtype), t, encoderStates, addedTimeIds, { poseLatents }).to('f32');
  }

  private hjbOptimizer(reference: Tensor, inputs: AnimateInputs, opts: HjbOptions, numFrames: number): HjbFaceOptimizer {
    const { vae, faceRecognizer } = this.components;
    if (!faceRecognizer) throw new Error('animate: HJB face optimisation needs the ArcFace recognizer (glintr100_torch.pth)');
    if (!inputs.faceTarget) throw new Error('animate: HJB face optimisation needs face boxes (from the driving poses or masks)');
    if (inputs.faceTarget.frameBoxes.length !== numFrames) {
      throw new Error(`animate: ${inputs.faceTarget.frameBoxes.length} HJB face boxes for ${numFrames} frames`);
    }
    return new HjbFaceOptimizer(vae, faceRecognizer, reference.to(paramOf(vae).device), inputs.faceTarget, opts);
  }
}

// One micro-batch of StableAnimator training (`train.py`), top to bottom:
//
//   1. targets: the frames through the frozen VAE, a posterior sample x 0.18215 (x0)
//   2. reference latent: the reference + 0.02·ε through the VAE, a posterior sample, NOT scaled
//   3. CLIP image embedding of the (clean) reference; face tokens from its ArcFace embedding and that embedding
//   4. conditioning dropout from one uniform r per sample: r < 2p -> CLIP token zeroed (the face tokens keep
//      the undropped embedding and are never dropped); p <= r < 3p -> reference latent zeroed; poses are never
//      dropped
//   5. x_t = x0 + σ·ε; UNet on [x_t/sqrt(σ²+1), reference latent] at timestep 0.25·ln σ, PoseNet features
//      added after conv_in, added time ids [fps−1, motion bucket, noise aug]
//   6. eq. 25 loss with the face masks at the latent size (all-zero masks with faceMaskLoss false: the plain
//      EDM-weighted loss, the paper's ablation)
//
// Every random draw of a sample comes from its own seed (drawSample): σ and r from a JS generator, the
// tensors from one torch generator in the order above, so a sample's loss does not depend on which process or
// micro-batch computes it.
import * as torch from '../../torch/index.ts';
import type { Device, DType, Tensor } from '../../torch/index.ts';
import { PoseNet } from '../../models/animator/pose-net.ts';
import type { FusionFaceId } from '../../models/face/face-encoder.ts';
import type { AutoencoderKLTemporalDecoder } from '../../models/svd/autoencoder.ts';
import type { CLIPVisionModelWithProjection } from '../../models/svd/clip-vision.ts';
import { clipPreprocess } from '../../models/svd/image-preprocess.ts';
import type { UNetSpatioTemporalConditionModel } from '../../models/svd/unet.ts';
import { imageToTensor } from '../../pipeline/inputs.ts';
import { mixSeed, positionRng } from '../../util/seeds.ts';
import type { LoadedSample } from './clip-loader.ts';
import { edmScalings, faceWeightedLoss, masksToLatent, sampleSigma, scalingTensor, type SigmaSampling } from './edm.ts';

export interface TrainModels {
  unet: UNetSpatioTemporalConditionModel;
  vae: AutoencoderKLTemporalDecoder;
  imageEncoder: CLIPVisionModelWithProjection;
  poseNet: PoseNet;
  faceEncoder: FusionFaceId;
}

export interface LossConfig {
  /** p of the reference's conditioning dropout (0.1). */
  conditioningDropout: number;
  /** Std of the noise added to the reference before the VAE, also the third time id (0.02). */
  noiseAugStrength: number;
  fps: number;
  motionBucketId: number;
  sigma: SigmaSampling;
  /** Mixed precision for the trainable forward (and CLIP); the VAE stays f32. Undefined: none. */
  autocast?: DType;
  /** Frames per VAE encode call (memory); default all. The noise drawn depends on it. */
  vaeEncodeChunk?: number;
  /** Weight face pixels twice (eq. 25's 1 + M); default true. False: M = 0, the ablation without the face mask. */
  faceMaskLoss?: boolean;
}

export interface SampleDraws {
  sigma: number;
  /** The dropout draw r in [0, 1). */
  dropout: number;
  /** Seed of the sample's torch generator. */
  seed: number;
}

export function drawSample(seed: number, step: number, slot: number, sigma: SigmaSampling): SampleDraws {
  const rng = positionRng(seed, 0xd1ce, step, slot);
  return { sigma: sampleSigma(sigma, rng), dropout: rng.next(), seed: mixSeed(seed, 0x7e45, step, slot) };
}

/**
 * The reference's conditioning dropout from one uniform r and p: the CLIP token is dropped for r < 2p, the
 * reference latent for p <= r < 3p (both for p <= r < 2p); poses and face tokens never.
 */
export function conditioningKeeps(r: number, p: number): { clip: boolean; reference: boolean } {
  return { clip: !(r < 2 * p), reference: !(r >= p && r < 3 * p) };
}

export interface BatchTensors {
  /** [B,F,3,H,W] in [-1,1]. */
  frames: Tensor;
  poses: Tensor;
  /** [B,F,1,H,W], 0/1. */
  masks: Tensor;
  /** [B,3,H,W] in [-1,1]. */
  reference: Tensor;
  /** [B,D] raw ArcFace embeddings (zeros where no face). */
  faceEmbeds: Tensor;
}

export function batchTensors(samples: readonly LoadedSample[], idDim: number, device: Device = 'cpu'): BatchTensors {
  if (samples.length === 0) throw new Error('batchTensors: empty batch');
  const { width, height } = samples[0]!;
  for (const s of samples) {
    if (s.width !== width || s.height !== height) throw new Error(`batchTensors: ${s.clip} is ${s.width}x${s.height}, the batch is ${width}x${height}`);
  }
  return torch.scope(() => {
    const b = samples.length;
    const f = samples[0]!.images.length;
    const stackImages = (pick: (s: LoadedSample) => readonly import('../../io/image.ts').Image[]) =>
      torch.cat(samples.flatMap((s) => pick(s).map(imageToTensor)), 0).reshape([b, f, 3, height, width]).to(device);
    const maskBytes = new Uint8Array(b * f * width * height);
    samples.forEach((s, i) => s.masks.forEach((m, j) => maskBytes.set(m, (i * f + j) * width * height)));
    const embeds = new Float32Array(b * idDim);
    samples.forEach((s, i) => {
      if (!s.faceEmbedding) return;
      if (s.faceEmbedding.length !== idDim) throw new Error(`${s.clip}: the face embedding has ${s.faceEmbedding.length} values, the Face Encoder takes ${idDim}`);
      embeds.set(s.faceEmbedding, i * idDim);
    });
    return {
      frames: stackImages((s) => s.images),
      poses: stackImages((s) => s.poses),
      masks: torch.tensor(maskBytes, { shape: [b, f, 1, height, width] }).to('f32').to(device),
      reference: torch.cat(samples.map((s) => imageToTensor(s.referenceImage)), 0).to(device),
      faceEmbeds: torch.tensor(embeds, { shape: [b, idDim] }).to(device),
    };
  });
}

const dtypeOf = (m: { parameters(): Tensor[] }): DType => m.parameters()[0]!.dtype;

function withAutocast<T>(dtype: DType | undefined, device: Device, fn: () => T): T {
  return dtype ? torch.autocast(dtype, fn, device) : fn();
}

/** Steps 1–2 for one sample: x0 [F,4,h,w], the reference latent [1,4,h,w] and x_t, from its generator. */
function encodeSample(vae: AutoencoderKLTemporalDecoder, frames: Tensor, reference: Tensor, draws: SampleDraws, cfg: LossConfig) {
  const device = frames.device;
  const g = new torch.Generator(draws.seed, device);
  const vd = dtypeOf(vae);
  const aug = torch.randn(reference.shape, g, 'f32', undefined, device);
  const refLatent = vae.encode(reference.add(aug.mul(cfg.noiseAugStrength)).to(vd)).sample(g).to('f32');
  const chunk = cfg.vaeEncodeChunk ?? frames.size(0);
  const parts: Tensor[] = [];
  for (let i = 0; i < frames.size(0); i += chunk) {
    parts.push(vae.encode(frames.narrow(0, i, Math.min(chunk, frames.size(0) - i)).to(vd)).sample(g).to('f32'));
  }
  const x0 = torch.cat(parts, 0).mul(vae.scalingFactor);
  const eps = torch.randn(x0.shape, g, 'f32', undefined, device);
  return { x0, refLatent, xt: x0.add(eps.mul(draws.sigma)) };
}

/** The eq. 25 loss of a micro-batch (a scalar with a graph to the trainable weights). */
export function denoisingLoss(m: TrainModels, batch: BatchTensors, draws: readonly SampleDraws[], cfg: LossConfig): Tensor {
  const device = batch.frames.device;
  const [b, f] = batch.frames.shape;
  if (draws.length !== b) throw new Error(`denoisingLoss: ${draws.length} draws for a batch of ${b}`);
  const p = cfg.conditioningDropout;
  return torch.scope(() => {
    // 1–3: frozen encoders, no graph
    const frozen = torch.noGrad(() => torch.scope(() => {
      const per = draws.map((d, i) => encodeSample(m.vae, batch.frames.select(0, i), batch.reference.narrow(0, i, 1), d, cfg));
      const clip = withAutocast(cfg.autocast, device, () => {
        const pixels = clipPreprocess(batch.reference, { size: m.imageEncoder.config.image_size });
        return m.imageEncoder.forward(pixels.to(dtypeOf(m.imageEncoder))).imageEmbeds.to('f32').unsqueeze(1);
      });
      return {
        x0: torch.stack(per.map((s) => s.x0), 0),
        xt: torch.stack(per.map((s) => s.xt), 0),
        refLatent: torch.stack(per.map((s) => s.refLatent), 0), // [B,1,4,h,w]
        clip,
      };
    }));
    const [h, w] = frozen.x0.shape.slice(-2);
    // 4: conditioning dropout
    const keeps = draws.map((d) => conditioningKeeps(d.dropout, p));
    const keepClip = torch.tensor(keeps.map((k) => (k.clip ? 1 : 0)), { dtype: 'f32' }).reshape([b, 1, 1]).to(device);
    const keepRef = scalingTensor(keeps.map((k) => (k.reference ? 1 : 0)), device);
    // 5: the trainable forward
    const sc = draws.map((d) => edmScalings(d.sigma));
    const out = withAutocast(cfg.autocast, device, () => {
      const faceTokens = m.faceEncoder.forward(batch.faceEmbeds.to(dtypeOf(m.faceEncoder)), frozen.clip.to(dtypeOf(m.faceEncoder))).to('f32');
      const encoderStates = torch.cat([frozen.clip.mul(keepClip), faceTokens], 1);
      const ref = frozen.refLatent.mul(keepRef).expand([b, f, -1, -1, -1]);
      const sample = torch.cat([frozen.xt.mul(scalingTensor(sc.map((s) => s.cIn), device)), ref], 2);
      const pose = m.poseNet.forward(PoseNet.inputAt(batch.poses, h, w).to(dtypeOf(m.poseNet)));
      const timesteps = torch.tensor(sc.map((s) => s.cNoise), { dtype: 'f32' }).to(device);
      const timeIds = torch.tensor(draws.map(() => [cfg.fps - 1, cfg.motionBucketId, cfg.noiseAugStrength]), { dtype: 'f32' }).to(device);
      const ud = dtypeOf(m.unet);
      return m.unet.forward(sample.to(ud), timesteps, encoderStates.to(ud), timeIds, { poseLatents: pose.to(ud) });
    });
    // 6: eq. 25
    const mask = masksToLatent(batch.masks, h, w);
    return faceWeightedLoss(out, frozen.xt, frozen.x0, draws.map((d) => d.sigma), cfg.faceMaskLoss === false ? torch.zerosLike(mask) : mask);
  });
}

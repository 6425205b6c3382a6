// Stage 1 of the miniature recipe: the temporal VAE trained on clips of the synthetic dataset. Loss: L1
// reconstruction of the decoded clip, weighted (1 + faceWeight·M) by the face masks so that the small faces
// (what HJB and CSIM look at) stay sharp, plus a small KL term to N(0, 1). The decoder decodes each clip's
// frames as one video, so its temporal layers train as SVD's do. At the end the latent scaling factor is set
// to 1 / std of the training latents (the convention behind SVD's 0.18215) and the folder is written in the
// diffusers layout (config.json + diffusion_pytorch_model.safetensors).
import * as torch from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import { AutoencoderKLTemporalDecoder } from '../models/svd/autoencoder.ts';
import { savePretrained } from '../models/svd/pretrained.ts';
import { batchTensors } from '../train/animator/denoising-loss.ts';
import { mixSeed } from '../util/seeds.ts';
import { runTrainingLoop, warmupCosine, type TrainingLoopResult } from '../nn/optim/training-loop.ts';
import { clipBatches } from './clip-batches.ts';
import { MINI_SIZE, MINI_VAE_CONFIG } from './configs.ts';

export interface MiniVaeOptions {
  data: string;
  outDir: string;
  steps: number;
  config?: Partial<typeof MINI_VAE_CONFIG>;
  size?: number;
  clipsPerStep?: number;
  framesPerClip?: number;
  stride?: number;
  lr?: number;
  klWeight?: number;
  faceWeight?: number;
  seed?: number;
  /**
   * Refine the decoder of a trained VAE (its folder) with the encoder frozen, as SVD fine-tuned its temporal
   * decoder on videos: the latents do not change, so a UNet trained on them stays valid.
   */
  refineDecoderOf?: string;
  /** Weight of an L1 term on 8x8 block means (flat colours, which the per-pixel L1 of a small decoder washes out). */
  colourWeight?: number;
  checkpointEvery?: number;
  resume?: boolean;
  stopAfter?: number;
  log?: (line: string) => void;
}

export interface MiniVaeResult extends TrainingLoopResult {
  vae: AutoencoderKLTemporalDecoder;
  scalingFactor: number;
}

export async function trainMiniVae(o: MiniVaeOptions): Promise<MiniVaeResult> {
  const size = o.size ?? MINI_SIZE;
  const config = { ...MINI_VAE_CONFIG, sample_size: size, ...o.config };
  const settings = {
    config, size, steps: o.steps, clipsPerStep: o.clipsPerStep ?? 2, framesPerClip: o.framesPerClip ?? 4, stride: o.stride ?? 2,
    lr: o.lr ?? 1e-3, klWeight: o.klWeight ?? 1e-6, faceWeight: o.faceWeight ?? 4, seed: o.seed ?? 0,
    colourWeight: o.colourWeight ?? 0, refineDecoder: o.refineDecoderOf !== undefined,
  };
  const seed = settings.seed;
  const vae = o.refineDecoderOf !== undefined
    ? AutoencoderKLTemporalDecoder.fromPretrained(o.refineDecoderOf)
    : nn.withInit({ seed }, () => AutoencoderKLTemporalDecoder.fromConfig(config));
  if (o.refineDecoderOf !== undefined) Object.assign(config, vae.config);
  const data = await clipBatches(o.data, {
    bucket: { name: 'rec', width: size, height: size }, clipsPerStep: settings.clipsPerStep, numFrames: settings.framesPerClip,
    stride: settings.stride, seed, log: o.log,
  });
  o.log?.(`vae: ${vae.numParameters()} parameters, ${data.clips} clips, ${settings.clipsPerStep} x ${settings.framesPerClip} frames per step`);
  const params = settings.refineDecoder ? vae.decoder.parameters() : vae.parameters();
  const optimizer = new nn.AdamW(params, { lr: settings.lr, weightDecay: 0 });
  const loop = await runTrainingLoop({
    name: 'mini-vae', outDir: o.outDir, weights: vae, params, optimizer, steps: o.steps, settings,
    lr: warmupCosine(settings.lr, o.steps),
    maxGradNorm: 1, checkpointEvery: o.checkpointEvery, resume: o.resume, stopAfter: o.stopAfter, log: o.log,
    lossAt: async (step) => {
      const samples = await data.batch(step);
      return torch.scope(() => {
        const b = batchTensors(samples, 1);
        const f = settings.framesPerClip;
        const x = b.frames.reshape([-1, 3, size, size]);
        const weight = b.masks.reshape([-1, 1, size, size]).mul(settings.faceWeight).add(1);
        const posterior = settings.refineDecoder ? torch.noGrad(() => vae.encode(x)) : vae.encode(x);
        const z = posterior.sample(new torch.Generator(mixSeed(seed, step)));
        const rec = vae.decode(z, f);
        let loss = rec.sub(x).abs().mul(weight).mean();
        if (!settings.refineDecoder) loss = loss.add(posterior.kl().mean().mul(settings.klWeight / (3 * size * size)));
        if (settings.colourWeight > 0) loss = loss.add(torch.avgPool2d(rec, 8).sub(torch.avgPool2d(x, 8)).abs().mean().mul(settings.colourWeight));
        loss.backward();
        return loss.item();
      });
    },
  });
  // A refined decoder keeps the encoder, hence the latents' scale.
  const scalingFactor = loop.finished && !settings.refineDecoder ? await latentScale(vae, data, o.steps) : config.scaling_factor;
  if (loop.finished) {
    vae.config.scaling_factor = scalingFactor;
    savePretrained(o.outDir, 'AutoencoderKLTemporalDecoder', { ...config, scaling_factor: scalingFactor }, vae);
    o.log?.(`vae: latent scaling factor ${scalingFactor.toFixed(4)}; wrote ${o.outDir}`);
  }
  return { ...loop, vae, scalingFactor };
}

/** 1 / std of the posterior means over a few batches not seen in training. */
async function latentScale(vae: AutoencoderKLTemporalDecoder, data: Awaited<ReturnType<typeof clipBatches>>, after: number): Promise<number> {
  let sum = 0, sumSq = 0, n = 0;
  for (let k = 0; k < 8; k++) {
    const samples = await data.batch(after + k);
    torch.noGrad(() => torch.scope(() => {
      const b = batchTensors(samples, 1);
      const m = vae.encode(b.frames.reshape([-1, 3, b.frames.size(-2), b.frames.size(-1)])).mode();
      sum += m.sum().item();
      sumSq += m.square().sum().item();
      n += m.numel;
    }));
  }
  const mean = sum / n;
  return 1 / Math.sqrt(Math.max(sumSq / n - mean * mean, 1e-12));
}

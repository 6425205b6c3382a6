// `stable-animator train --config train.json [--resume] [--nproc N]`: StableAnimator training (docs/training.md).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as torch from '../torch/index.ts';
import type { Device } from '../torch/index.ts';
import { PoseNet } from '../models/animator/pose-net.ts';
import { FusionFaceId } from '../models/face/face-encoder.ts';
import type { Image } from '../io/image.ts';
import * as nn from '../nn/index.ts';
import type { StableAnimatorComponents } from '../pipeline/animate.ts';
import { loadComponents, resolveWeightPaths } from '../pipeline/components.ts';
import { referenceFace } from '../face/reference-face.ts';
import { listCheckpoints } from '../nn/optim/checkpoint.ts';
import { readTrainConfig, type TrainConfig } from '../train/animator/train-config.ts';
import { trainAnimator } from '../train/animator/trainer.ts';
import { processGroup } from '../train/process-group.ts';
import type { LargestFaceEmbedding } from '../train/animator/validation.ts';
import type { Command } from './main.ts';
import { progressBar } from './progress-bar.ts';

const USAGE = `stable-animator train --config train.json [--resume] [--nproc N] [--threads N]

  Trains PoseNet, the Face Encoder and the UNet's attention layers (configurable) on a dataset in the
  reference layout (<data>/{rec,vec}/<id>/{images,faces,poses}/frame_i.png) with the paper's face-weighted
  loss (eq. 25). Every option of train.json is described in docs/training.md. Writes into "output":
  checkpoints/ (every checkpointEvery steps, last keepCheckpoints kept), train.jsonl, loss.png,
  validation/step-N.mp4 and final/{unet,pose_net,face_encoder}.safetensors.
  --resume   continue from the newest checkpoint in output/checkpoints (exactly as an uninterrupted run)
  --nproc N  N data-parallel processes on this machine (gloo on CPU, NCCL on CUDA; docs/training.md)`;

/**
 * The models named by the config, on its device; PoseNet and the Face Encoder freshly initialised with
 * fromScratch. The ArcFace iResNet is required only for reference embeddings without an ONNX ArcFace; with
 * zero embeddings it is optional and loaded, when present, for validation CSIM.
 */
export function loadTrainComponents(c: TrainConfig): { components: StableAnimatorComponents; faceEmbedding?: LargestFaceEmbedding } {
  const paths = resolveWeightPaths(c.weights, {
    unet: c.unet, poseNet: c.poseNet, faceEncoder: c.faceEncoder, svdDir: c.svd, arcface: c.arcface, arcfaceOnnx: c.arcfaceOnnx,
  }, { noFaceEmbeddings: c.faceEmbeddings === 'zeros' });
  const device = c.device as Device;
  const wantsIresnet = !paths.arcfaceOnnx && (c.faceEmbeddings === 'arcface' || (c.validateEvery > 0 && !!paths.arcface));
  const components = loadComponents(paths, { device, dtype: 'f32', arcface: wantsIresnet });
  if (c.fromScratch) {
    const { cross_attention_dim: crossDim, id_embeddings_dim: idDim, clip_embeddings_dim: clipDim, num_tokens: numTokens } = components.faceEncoder.config;
    const channels = components.poseNet.noiseLatentChannels;
    nn.withInit({ seed: c.seed, device }, () => {
      components.poseNet = new PoseNet(channels);
      components.faceEncoder = new FusionFaceId(crossDim, idDim, clipDim, numTokens);
    });
  }
  // reference embeddings (faceEmbeddings "arcface") and validation CSIM: glintr100.onnx, else the iResNet
  const { arcfaceOnnx } = paths;
  const recognizer = components.faceRecognizer;
  const faceEmbedding = arcfaceOnnx || recognizer
    ? async (image: Image) => (await referenceFace(image, { arcfaceOnnx, recognizer }))?.embedding
    : undefined;
  return { components, faceEmbedding };
}

export const train: Command = {
  summary: 'train StableAnimator (PoseNet, Face Encoder, UNet attention) on a dataset in the reference layout',
  usage: USAGE,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: { config: { type: 'string' }, resume: { type: 'boolean' }, nproc: { type: 'string' }, threads: { type: 'string' } },
    });
    if (!values.config) throw new Error(`--config train.json is required\nusage: ${USAGE}`);
    const c = readTrainConfig(values.config);
    const nproc = values.nproc === undefined ? 1 : Number(values.nproc);
    if (!(Number.isInteger(nproc) && nproc >= 1)) throw new Error(`--nproc must be a positive integer, found '${values.nproc}'`);
    if (nproc > 1) {
      const { launch } = await import('../train/launch.ts');
      const childArgs = ['train', ...args.filter((a, i) => a !== '--nproc' && args[i - 1] !== '--nproc' && !a.startsWith('--nproc='))];
      return launch({ nproc, args: childArgs });
    }
    // --threads, else the launcher's share of the cores (STABLE_ANIMATOR_THREADS), else the config
    const threads = Number(values.threads ?? process.env.STABLE_ANIMATOR_THREADS ?? c.threads);
    if (threads > 0) torch.setNumThreads(threads);
    const checkpoints = listCheckpoints(join(c.output, 'checkpoints'));
    if (checkpoints.length && !values.resume) {
      throw new Error(`${join(c.output, 'checkpoints')} holds checkpoints (newest: step ${checkpoints[checkpoints.length - 1]!.step}): pass --resume to continue, or choose another output folder`);
    }
    const parallel = await processGroup(c.device);
    const { components, faceEmbedding } = loadTrainComponents(c);
    const bar = progressBar('train');
    try {
      const result = await trainAnimator({
        config: c, components, faceEmbedding, parallel,
        log: (line) => { process.stderr.write(`${line}\n`); },
        onProgress: (p) => { if ((parallel?.rank ?? 0) === 0) bar.update(p.step, p.total, `loss ${p.loss.toFixed(4)}  ${p.itPerSec.toFixed(3)} it/s`); },
      });
      bar.finish();
      if (Object.keys(result.badClips).length) process.stderr.write(`${Object.keys(result.badClips).length} clips were skipped (see train log)\n`);
      return 0;
    } finally {
      if (parallel) (await import('../torch/distributed.ts')).destroyProcessGroup();
    }
  },
};

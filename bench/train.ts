// Training step at full size on random weights: StableAnimator UNet (SVD-xt + ID-Adapters), PoseNet, Face
// Encoder, CLIP ViT-H/14 and the temporal VAE, 16 frames at 256x256, PoseNet + Face Encoder + UNet attention
// layers trainable (0.80e9 of the UNet's 1.55e9 parameters), gradient checkpointing, AdamW. Seconds of one
// optimizer step (the eq. 25 loss, backward, AdamW; the first step, so it includes AdamW's state allocation)
// and peak RSS, one process per case.
//
// Cases:
//   step_bf16 (default): every weight bf16 (frozen and trainable, so gradients and AdamW's moments too) under
//     bf16 autocast; the VAE f32 (SVD's VAE upcasts). On CPUs that emulate bf16, src/torch/bf16-gemm.ts
//     computes bf16 GEMMs and convolutions in f32, so bf16 weights run at f32 speed. Memory: about 3.1 GB of
//     UNet weights, 3.2 GB of gradients + moments for the trainable ones, 1.3 GB CLIP, 0.4 GB VAE, plus
//     checkpointed activations. It measures the step's cost; for real training bf16 weights lose updates
//     below their resolution (lr 1e-5 on weights of ~1e-2), which needs f32 master weights.
//   step_f32: f32 weights and f32 AdamW state (the trainer's default): 0.80e9 trainable x 16 bytes (weight,
//     gradient, two moments) = 12.7 GB before the frozen weights and activations, about 20 GB in all.
// A case is skipped, and says so, when the machine lacks the memory it needs. `--quick` runs the same code on
// small models (4 frames at 64x64) to check it.
import { spawnSync } from 'node:child_process';
import { freemem, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.ts';
import type { DType } from '../src/torch/index.ts';
import * as nn from '../src/nn/index.ts';
import { PoseNet } from '../src/models/animator/pose-net.ts';
import { StableAnimatorUNet } from '../src/models/animator/stable-animator-unet.ts';
import { FusionFaceId } from '../src/models/face/face-encoder.ts';
import { AutoencoderKLTemporalDecoder } from '../src/models/svd/autoencoder.ts';
import { CLIP_VISION_DEFAULTS, CLIPVisionModelWithProjection } from '../src/models/svd/clip-vision.ts';
import { keyList } from '../src/models/weights-layout.ts';
import { batchTensors, denoisingLoss, drawSample, type TrainModels } from '../src/train/animator/denoising-loss.ts';
import { REFERENCE_SIGMA_SAMPLING } from '../src/train/animator/edm.ts';
import { REFERENCE_TRAINABLE, selectTrainable } from '../src/train/animator/trainable.ts';
import type { LoadedSample } from '../src/train/animator/clip-loader.ts';
import { printTable, writeResult } from './timing.ts';

interface Row {
  name: string; frames: number; size: number; seconds_per_step?: number; loss?: number; trainable_params?: number;
  peak_rss_mb?: number; skipped?: string; load_average: number; threads: number;
}

interface Shape { frames: number; size: number; quick: boolean }
const FULL: Shape = { frames: 16, size: 256, quick: false };
const QUICK: Shape = { frames: 4, size: 64, quick: true };
/** Free memory a case needs (GB); see the header. */
const NEEDED_GB: Record<string, number> = { step_bf16: 14, step_f32: 20 };
const ID_DIM = 512;

function sample(s: Shape): LoadedSample {
  const n = s.size;
  const img = () => ({ width: n, height: n, channels: 3 as const, data: Uint8Array.from({ length: n * n * 3 }, (_, i) => (i * 37) & 255) });
  const mask = new Uint8Array(n * n).map((_, i) => (i % n < n / 2 && i < (n * n) / 2 ? 1 : 0));
  return {
    clip: 'synthetic', bucket: 'bench', width: n, height: n, frames: [], reference: 0,
    images: Array.from({ length: s.frames }, img), poses: Array.from({ length: s.frames }, img), masks: Array.from({ length: s.frames }, () => mask),
    referenceImage: img(), faceEmbedding: new Float32Array(ID_DIM).fill(0.1),
  };
}

/** Full size, or the same architecture at small widths (`--quick`), built directly in `dtype`. */
function buildModels(s: Shape, dtype: DType): TrainModels {
  const unetConfig = s.quick
    ? { ...keyList('unet').config, block_out_channels: [32, 64, 64, 64], num_attention_heads: [2, 2, 4, 4], cross_attention_dim: 64, addition_time_embed_dim: 8, projection_class_embeddings_input_dim: 24 }
    : keyList('unet').config;
  const token = s.quick ? 64 : 1024;
  const vaeConfig = s.quick ? { down_block_types: Array(4).fill('DownEncoderBlock2D'), block_out_channels: [32, 32, 32, 32], layers_per_block: 1 } : keyList('vae_svd_temporal').config;
  const models = nn.withInit({ seed: 0, dtype }, () => ({
    unet: StableAnimatorUNet.fromConfig(unetConfig),
    imageEncoder: s.quick
      ? new CLIPVisionModelWithProjection({ ...CLIP_VISION_DEFAULTS, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, image_size: 28, patch_size: 14, projection_dim: token, hidden_act: 'gelu' })
      : new CLIPVisionModelWithProjection(),
    poseNet: new PoseNet((unetConfig.block_out_channels as number[])[0]!),
    faceEncoder: new FusionFaceId(token, ID_DIM, token, 4),
  }));
  const vae = nn.withInit({ seed: 1, dtype: 'f32' }, () => AutoencoderKLTemporalDecoder.fromConfig(vaeConfig));
  return { ...models, vae };
}

function runCase(name: string, s: Shape): Row {
  const dtype: DType = name === 'step_bf16' ? 'bf16' : 'f32';
  const models = buildModels(s, dtype);
  const params = selectTrainable(models, REFERENCE_TRAINABLE).map(([, p]) => p);
  models.unet.enableGradientCheckpointing(true).train();
  const opt = new nn.AdamW(params, { lr: 1e-5 });
  const batch = batchTensors([sample(s)], ID_DIM);
  const cfg = {
    conditioningDropout: 0.1, noiseAugStrength: 0.02, fps: 7, motionBucketId: 127, sigma: REFERENCE_SIGMA_SAMPLING,
    autocast: dtype === 'bf16' ? 'bf16' as const : undefined, vaeEncodeChunk: 4,
  };
  const t0 = performance.now();
  const loss = torch.scope(() => {
    const l = denoisingLoss(models, batch, [drawSample(0, 0, 0, REFERENCE_SIGMA_SAMPLING)], cfg);
    l.backward();
    return l.item();
  });
  opt.step();
  opt.zeroGrad();
  const seconds = (performance.now() - t0) / 1000;
  if (!Number.isFinite(loss)) throw new Error(`case ${name}: the loss is ${loss}`);
  return {
    name, frames: s.frames, size: s.size, seconds_per_step: seconds, loss, trainable_params: params.reduce((n, p) => n + p.numel, 0),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024, load_average: loadavg()[0], threads: torch.getNumThreads(),
  };
}

const CASES = ['step_bf16', 'step_f32'];

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const shape = quick ? QUICK : FULL;
  const only = args.find((a) => a.startsWith('--case='))?.slice(7);
  if (only) {
    console.log(JSON.stringify(runCase(only, shape)));
    return;
  }
  const wanted = args.filter((a) => !a.startsWith('--'));
  const cases = wanted.length ? CASES.filter((c) => wanted.some((w) => c.includes(w))) : ['step_bf16'];
  console.log(`train benchmark: one optimizer step, ${shape.frames} frames ${shape.size}x${shape.size}, ${quick ? 'small models (--quick)' : 'full-size models'} on random weights, checkpointing; one process per case`);
  const rows: Row[] = [];
  for (const c of cases) {
    const free = freemem() / 2 ** 30;
    if (!quick && free < NEEDED_GB[c]!) {
      const row = { name: c, frames: shape.frames, size: shape.size, skipped: `needs about ${NEEDED_GB[c]} GB free, ${free.toFixed(1)} of ${(totalmem() / 2 ** 30).toFixed(1)} GB were`, load_average: loadavg()[0], threads: torch.getNumThreads() };
      console.log(`${c}: skipped, ${row.skipped}`);
      rows.push(row);
      continue;
    }
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./run.ts', import.meta.url)), 'train', `--case=${c}`, ...(quick ? ['--quick'] : [])], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`case ${c} failed:\n${r.stderr}`);
    const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as Row;
    rows.push(row);
    console.log(`${c}: ${row.seconds_per_step!.toFixed(1)} s/step, peak RSS ${row.peak_rss_mb!.toFixed(0)} MB, load ${row.load_average.toFixed(1)}`);
  }
  printTable(rows.map((r) => ({ ...r })));
  console.log(`wrote ${writeResult(quick ? 'train-quick' : 'train', { frames: shape.frames, size: shape.size, rows })}`);
}

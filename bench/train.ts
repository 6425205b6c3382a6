// Training step at full size on random weights: StableAnimator UNet (SVD-xt + ID-Adapters), PoseNet, Face
// Encoder, CLIP ViT-H/14 and the temporal VAE, 16 frames at 256x256, PoseNet + Face Encoder + UNet attention
// layers trainable, gradient checkpointing, AdamW. Seconds of one optimizer step (the eq. 25 loss, backward,
// AdamW; the first step, so it includes AdamW's state allocation) and peak RSS, one process per case.
// A case is skipped, and says so, when the machine lacks the memory it needs.
import { spawnSync } from 'node:child_process';
import { freemem, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.ts';
import * as nn from '../src/nn/index.ts';
import { PoseNet } from '../src/models/animator/pose-net.ts';
import { StableAnimatorUNet } from '../src/models/animator/stable-animator-unet.ts';
import { FusionFaceId } from '../src/models/face/face-encoder.ts';
import { AutoencoderKLTemporalDecoder } from '../src/models/svd/autoencoder.ts';
import { CLIPVisionModelWithProjection } from '../src/models/svd/clip-vision.ts';
import { keyList } from '../src/models/weights-layout.ts';
import { batchTensors, denoisingLoss, drawSample } from '../src/train/animator/denoising-loss.ts';
import { REFERENCE_SIGMA_SAMPLING } from '../src/train/animator/edm.ts';
import { REFERENCE_TRAINABLE, selectTrainable } from '../src/train/animator/trainable.ts';
import type { LoadedSample } from '../src/train/animator/clip-loader.ts';
import { printTable, writeResult } from './timing.ts';

interface Row { name: string; seconds_per_step?: number; loss?: number; trainable_params?: number; peak_rss_mb?: number; skipped?: string; load_average: number; threads: number }

const FRAMES = 16;
const SIZE = 256;
/** f32 weights (UNet 1.52e9 + CLIP 0.63e9 + rest) plus grads and two AdamW moments of ~0.6e9 trainable, plus activations. */
const NEEDED_GB = 20;

function sample(): LoadedSample {
  const img = () => ({ width: SIZE, height: SIZE, channels: 3 as const, data: Uint8Array.from({ length: SIZE * SIZE * 3 }, (_, i) => (i * 37) & 255) });
  const mask = new Uint8Array(SIZE * SIZE).map((_, i) => (i % SIZE < SIZE / 2 && i < (SIZE * SIZE) / 2 ? 1 : 0));
  return {
    clip: 'synthetic', bucket: 'bench', width: SIZE, height: SIZE, frames: [], reference: 0,
    images: Array.from({ length: FRAMES }, img), poses: Array.from({ length: FRAMES }, img), masks: Array.from({ length: FRAMES }, () => mask),
    referenceImage: img(), faceEmbedding: new Float32Array(512).fill(0.1),
  };
}

function runCase(name: string): Row {
  const dt = name.endsWith('bf16') ? 'bf16' : undefined;
  const models = nn.withInit({ seed: 0 }, () => ({
    unet: StableAnimatorUNet.fromConfig(keyList('unet').config),
    vae: AutoencoderKLTemporalDecoder.fromConfig(keyList('vae_svd_temporal').config),
    imageEncoder: new CLIPVisionModelWithProjection(),
    poseNet: new PoseNet(320),
    faceEncoder: new FusionFaceId(),
  }));
  const params = selectTrainable(models, REFERENCE_TRAINABLE).map(([, p]) => p);
  models.unet.enableGradientCheckpointing(true).train();
  const opt = new nn.AdamW(params, { lr: 1e-5 });
  const batch = batchTensors([sample()], 512);
  const cfg = { conditioningDropout: 0.1, noiseAugStrength: 0.02, fps: 7, motionBucketId: 127, sigma: REFERENCE_SIGMA_SAMPLING, autocast: dt, vaeEncodeChunk: 4 } as const;
  const t0 = performance.now();
  const loss = torch.scope(() => {
    const l = denoisingLoss(models, batch, [drawSample(0, 0, 0, REFERENCE_SIGMA_SAMPLING)], cfg);
    l.backward();
    return l.item();
  });
  opt.step();
  opt.zeroGrad();
  const seconds = (performance.now() - t0) / 1000;
  return {
    name, seconds_per_step: seconds, loss, trainable_params: params.reduce((n, p) => n + p.numel, 0),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024, load_average: loadavg()[0], threads: torch.getNumThreads(),
  };
}

const CASES = ['step_f32', 'step_bf16'];

export async function run(args: string[]): Promise<void> {
  const only = args.find((a) => a.startsWith('--case='))?.slice(7);
  if (only) {
    console.log(JSON.stringify(runCase(only)));
    return;
  }
  const wanted = args.filter((a) => !a.startsWith('--'));
  const cases = wanted.length ? CASES.filter((c) => wanted.some((w) => c.includes(w))) : ['step_f32'];
  console.log(`train benchmark: one optimizer step, ${FRAMES} frames ${SIZE}x${SIZE}, full-size models on random weights, checkpointing; one process per case` +
    (torch.nativeBf16 ? '' : ' (bf16 is emulated on this CPU: pass "bf16" to run it anyway)'));
  const rows: Row[] = [];
  for (const c of cases) {
    const free = freemem() / 2 ** 30;
    if (free < NEEDED_GB) {
      const row = { name: c, skipped: `needs about ${NEEDED_GB} GB free, ${free.toFixed(1)} of ${(totalmem() / 2 ** 30).toFixed(1)} GB were`, load_average: loadavg()[0], threads: torch.getNumThreads() };
      console.log(`${c}: skipped, ${row.skipped}`);
      rows.push(row);
      continue;
    }
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./run.ts', import.meta.url)), 'train', `--case=${c}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`case ${c} failed:\n${r.stderr}`);
    const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as Row;
    rows.push(row);
    console.log(`${c}: ${row.seconds_per_step!.toFixed(1)} s/step, peak RSS ${row.peak_rss_mb!.toFixed(0)} MB, load ${row.load_average.toFixed(1)}`);
  }
  printTable(rows.map((r) => ({ ...r })));
  console.log(`wrote ${writeResult('train', { frames: FRAMES, size: SIZE, rows })}`);
}

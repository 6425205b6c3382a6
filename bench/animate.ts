// The animation pipeline at full size on random weights (nn.withInit({seed})): seconds per denoising step at
// 16 frames, 256x256, CFG on (two UNet passes per step), in f32 and bf16 (UNet, CLIP, PoseNet, Face Encoder;
// the VAE and ArcFace stay f32 as the loader keeps them), without and with HJB (3 Adam iterations through the
// checkpointed VAE decoder, chunks of 4 frames), plus the decode and the peak RSS. One process per case.
//
//   npm run bench -- animate [f32] [f32_hjb] [bf16] [bf16_hjb] [--steps 4] [--frames 16] [--size 256] [--hjb-steps 1] [--hjb-face-window]
//                            [--hjb-iters 3] [--no-decode] [--device cuda]
//
// HJB is active on the first --hjb-steps steps (default 1: an HJB step on this CPU takes many minutes); its
// per-step time is reported apart from the plain steps'. Cases run one by one accumulate in the results file.
import { loadavg } from 'node:os';
import * as torch from '../src/torch/index.ts';
import type { Device, DType } from '../src/torch/index.ts';
import * as nn from '../src/nn/index.ts';
import { PoseNet } from '../src/models/animator/pose-net.ts';
import { StableAnimatorUNet } from '../src/models/animator/stable-animator-unet.ts';
import { FusionFaceId } from '../src/models/face/face-encoder.ts';
import { IResNet } from '../src/models/face/iresnet.ts';
import { AutoencoderKLTemporalDecoder } from '../src/models/svd/autoencoder.ts';
import { CLIPVisionModelWithProjection } from '../src/models/svd/clip-vision.ts';
import { keyList } from '../src/models/weights-layout.ts';
import { EulerDiscreteScheduler, SVD_XT_SCHEDULER_CONFIG } from '../src/sampling/euler-discrete.ts';
import { StableAnimatorPipeline, type StableAnimatorComponents } from '../src/pipeline/animate.ts';
import type { PixelBox } from '../src/face/face-boxes.ts';
import { mergeRows, printTable, runCaseProcess, writeResult } from './timing.ts';

interface Settings { steps: number; frames: number; size: number; hjbSteps: number; hjbIters: number; hjbWindow: 'full' | 'face'; decode: boolean; device: Device }

interface Row {
  case: string;
  dtype: string;
  hjb: boolean;
  /** Mean seconds of the steps without HJB. */
  seconds_per_step: number;
  /** Mean seconds of the HJB steps (HJB cases). */
  seconds_per_hjb_step?: number;
  /** NaN with --no-decode. */
  decode_seconds: number;
  build_seconds: number;
  peak_rss_mb: number;
  /** 1-minute load average at the end of the case (other processes on the machine skew the timings). */
  load_average: number;
}

function components(dtype: DType, device: Device): StableAnimatorComponents {
  const built = nn.withInit({ seed: 0, dtype }, () => ({
    unet: new StableAnimatorUNet(),
    imageEncoder: new CLIPVisionModelWithProjection(),
    poseNet: new PoseNet(),
    faceEncoder: new FusionFaceId(),
  }));
  const f32 = nn.withInit({ seed: 1, dtype: 'f32' }, () => ({
    vae: AutoencoderKLTemporalDecoder.fromConfig(keyList('vae_svd_temporal').config), faceRecognizer: new IResNet(),
  }));
  const all = { ...built, ...f32, scheduler: EulerDiscreteScheduler.fromConfig(SVD_XT_SCHEDULER_CONFIG) };
  if (device !== 'cpu') for (const m of Object.values(all)) if (m instanceof nn.Module) m.to(device);
  return all;
}

function runCase(name: string, s: Settings): Row {
  const [dt, hjbFlag] = name.split('_') as [DType, string | undefined];
  const hjb = hjbFlag === 'hjb';
  const t0 = performance.now();
  const pipe = new StableAnimatorPipeline(components(dt, s.device));
  const buildSeconds = (performance.now() - t0) / 1000;
  const g = new torch.Generator(2);
  const side = s.size;
  const face: PixelBox = [Math.round(side * 0.375), Math.round(side * 0.125), Math.round(side * 0.625), Math.round(side * 0.4375)];
  const inputs = {
    reference: torch.rand([1, 3, side, side], g).mul(2).sub(1),
    poses: torch.rand([s.frames, 3, side, side], g).gt(0.95).to('f32').mul(2).sub(1),
    faceEmbedding: torch.randn([512], g).mul(20),
    faceTarget: { referenceBox: face, frameBoxes: Array.from({ length: s.frames }, () => face) },
  };
  const stepTimes: number[] = [];
  let last = performance.now();
  let decodeSeconds = NaN;
  pipe.call(inputs, {
    numInferenceSteps: s.steps, minGuidanceScale: 1, maxGuidanceScale: 3, tileSize: 16, tileOverlap: 4, decodeChunkSize: 4, seed: 3,
    hjb: hjb ? { startStep: 0, endStep: s.hjbSteps - 1, iterations: s.hjbIters, decodeChunkSize: 4, window: s.hjbWindow } : undefined,
    outputType: s.decode ? 'frames' : 'latents',
    onProgress: (p) => {
      const now = performance.now();
      if (p.phase === 'denoise') stepTimes.push((now - last) / 1000);
      else decodeSeconds = p.elapsedSeconds;
      last = now;
      console.error(`  ${name}: ${p.phase} ${p.step}/${p.total} ${((now - t0) / 1000).toFixed(0)} s`);
    },
  });
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const hjbSteps = hjb ? Math.min(s.hjbSteps, s.steps) : 0;
  return {
    case: name, dtype: dt, hjb,
    seconds_per_step: mean(stepTimes.slice(hjbSteps)),
    ...(hjb ? { seconds_per_hjb_step: mean(stepTimes.slice(0, hjbSteps)) } : {}),
    decode_seconds: decodeSeconds, build_seconds: buildSeconds, peak_rss_mb: process.resourceUsage().maxRSS / 1024, load_average: loadavg()[0],
  };
}

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got '${args[i + 1]}'`);
  return v;
}

const CASES = ['f32', 'f32_hjb', 'bf16', 'bf16_hjb'];

export async function run(args: string[]): Promise<void> {
  const di = args.indexOf('--device');
  const settings: Settings = {
    steps: option(args, 'steps', 4), frames: option(args, 'frames', 16), size: option(args, 'size', 256),
    hjbSteps: option(args, 'hjb-steps', 1), hjbIters: option(args, 'hjb-iters', 3), hjbWindow: args.includes('--hjb-face-window') ? 'face' : 'full', decode: !args.includes('--no-decode'), device: (di >= 0 ? args[di + 1] : 'cpu') as Device,
  };
  const only = args.find((a) => a.startsWith('--case='))?.slice(7);
  if (only) {
    console.log(JSON.stringify(runCase(only, settings)));
    return;
  }
  const valued = new Set(['--steps', '--frames', '--size', '--hjb-steps', '--hjb-iters', '--device']);
  const wanted = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1]));
  const cases = wanted.length ? CASES.filter((c) => wanted.includes(c)) : CASES;
  console.log(`animate benchmark: full-size StableAnimator on random weights, ${settings.frames} frames ${settings.size}x${settings.size}, ` +
    `${settings.steps} steps, CFG on, ${torch.getNumThreads()} threads, ${settings.device}` +
    `${torch.nativeBf16 ? '' : ' (no native bf16 on this CPU: bf16 GEMMs and convolutions run in f32)'}; one process per case`);
  const rows: Row[] = [];
  for (const c of cases) {
    const row = runCaseProcess<Row>(import.meta.url, c, args);
    const line = JSON.stringify(row);
    rows.push(row);
    const fmt = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(1)} s` : 'n/a');
    console.log(`${c}: ${fmt(row.seconds_per_step)} per step, ${row.hjb ? `${fmt(row.seconds_per_hjb_step)} per HJB step, ` : ''}` +
      `decode ${fmt(row.decode_seconds)}, peak RSS ${row.peak_rss_mb.toFixed(0)} MB  ${line}`);
  }
  printTable(rows.map((r) => ({ case: r.case, per_step: r.seconds_per_step ?? NaN, per_hjb_step: r.seconds_per_hjb_step ?? NaN, decode: r.decode_seconds ?? NaN, rss_mb: r.peak_rss_mb })));
  const merged = mergeRows('animate', rows.map((r) => ({ ...r, settings })), (r) => r.case, CASES);
  console.log(`wrote ${writeResult('animate', { threads: torch.getNumThreads(), nativeBf16: torch.nativeBf16, rows: merged })}`);
}

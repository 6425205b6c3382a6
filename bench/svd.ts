// SVD-xt parts at full size on random weights: UNet forward (14 frames, 256x256), temporal VAE decode
// (14 frames, 256x256), CLIP ViT-H/14 image embedding; seconds, achieved TFLOP/s next to the
// machine's measured matmul rate, and peak RSS. Each case runs in its own process for a clean RSS.
// `torch_*` rows: the same UNet forward in Python PyTorch eager on the same libtorch (svd_unet_torch.py,
// diffusers' computation, checked against the reference's fixture output). bf16 is compared on 1 frame:
// libtorch 1.13's emulated bf16 GEMMs make Python's bf16 forward take ~4 min per frame here (1 thread).
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.ts';
import * as nn from '../src/nn/index.ts';
import { AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel } from '../src/models/svd/index.ts';
import { CLIPVisionModelWithProjection } from '../src/models/svd/clip-vision.ts';
import { keyList } from '../src/models/weights-layout.ts';
import { mergeRows, printTable, timeMs, writeResult } from './timing.ts';

type Dt = 'f32' | 'bf16';
interface Row { name: string; seconds: number; tflops: number; peak_tflops: number; peak_rss_mb: number; load_average: number }

const PYTHON = '/usr/bin/python3';
const framesOf = (name: string) => (name.endsWith('_1f') ? 1 : 14);

function matmulPeak(dt: Dt): number {
  return torch.scope(() => {
    const g = new torch.Generator(0);
    const a = torch.randn([2048, 2048], g).to(dt), b = torch.randn([2048, 2048], g).to(dt);
    const ms = timeMs(() => torch.scope(() => { torch.matmul(a, b); }), 3);
    return (2 * 2048 ** 3) / (ms / 1000) / 1e12;
  });
}

function unetWork(dt: Dt, frames: number): () => torch.Tensor {
  const g = new torch.Generator(1);
  const unet = nn.withInit({ seed: 0, dtype: dt }, () => UNetSpatioTemporalConditionModel.fromConfig(keyList('unet_svd').config)).eval();
  const sample = torch.randn([1, frames, 8, 32, 32], g).to(dt);
  const ehs = torch.randn([1, 1, 1024], g).to(dt);
  const ids = torch.tensor([[6, 127, 0.02]]).to(dt);
  return () => unet.forward(sample, 0.25 * Math.log(10), ehs, ids);
}

function runTorchCase(name: string): Row {
  const dt = name.split('_')[2] as Dt;
  const frames = framesOf(name);
  const script = fileURLToPath(new URL('./svd_unet_torch.py', import.meta.url));
  const r = spawnSync(PYTHON, [script, '--threads', String(torch.getNumThreads()), '--dtype', dt, '--frames', String(frames)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name}: ${PYTHON} ${script} failed (needs Debian's python3-torch):\n${r.stderr}`);
  const py = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; peak_rss_mb: number };
  // tflops is filled in from our row of the same forward (the FLOPs of the graph both sides compute)
  return {
    name, seconds: py.seconds, tflops: NaN, peak_tflops: matmulPeak(dt),
    peak_rss_mb: py.peak_rss_mb, load_average: loadavg()[0],
  };
}

function runCase(name: string): Row {
  if (name.startsWith('torch_')) return runTorchCase(name);
  const [part, dt] = name.split('_') as [string, Dt];
  const g = new torch.Generator(1);
  let work: () => torch.Tensor;
  if (part === 'unet') {
    work = unetWork(dt, framesOf(name));
  } else if (part === 'vae') {
    const vae = nn.withInit({ seed: 0, dtype: dt }, () => AutoencoderKLTemporalDecoder.fromConfig(keyList('vae_svd_temporal').config)).eval();
    const latents = torch.randn([14, 4, 32, 32], g).to(dt);
    work = () => vae.decode(latents, 14);
  } else {
    const clip = nn.withInit({ seed: 0, dtype: dt }, () => new CLIPVisionModelWithProjection()).eval();
    const pixels = torch.randn([1, 3, 224, 224], g).to(dt);
    work = () => clip.forward(pixels).imageEmbeds;
  }
  const once = () => torch.noGrad(() => torch.scope(() => torch.countFlops(() => { work(); }).flops));
  const flops = once(); // also the warm-up
  const t0 = performance.now();
  once();
  const seconds = (performance.now() - t0) / 1000;
  return {
    name, seconds, tflops: flops / seconds / 1e12, peak_tflops: matmulPeak(dt),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024, load_average: loadavg()[0],
  };
}

const CASES = ['clip_f32', 'clip_bf16', 'unet_f32', 'torch_unet_f32', 'unet_bf16', 'unet_bf16_1f', 'torch_unet_bf16_1f', 'vae_f32', 'vae_bf16'];

export async function run(args: string[]): Promise<void> {
  const only = args.find((a) => a.startsWith('--case='))?.slice(7);
  if (only) {
    console.log(JSON.stringify(runCase(only)));
    return;
  }
  const wanted = args.filter((a) => !a.startsWith('--'));
  const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  if (!hasTorch) console.log(`skipping the torch_* cases: ${PYTHON} has no torch (apt-get install python3-torch)`);
  const cases = (wanted.length ? CASES.filter((c) => wanted.some((w) => c.startsWith(w))) : CASES)
    .filter((c) => hasTorch || !c.startsWith('torch_'));
  console.log(`svd benchmark: full-size SVD-xt parts on random weights, ${torch.getNumThreads()} threads; one process per case`);
  const rows: Row[] = [];
  for (const c of cases) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./run.ts', import.meta.url)), 'svd', `--case=${c}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`case ${c} failed:\n${r.stderr}`);
    const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as Row;
    rows.push(row);
    const rate = typeof row.tflops === 'number' ? `${row.tflops.toFixed(3)} TFLOP/s` : 'TFLOP/s from our row of the same forward';
    console.log(`${c}: ${row.seconds.toFixed(2)} s, ${rate} (matmul peak ${row.peak_tflops.toFixed(3)}), peak RSS ${row.peak_rss_mb.toFixed(0)} MB`);
  }
  const merged = mergeRows('svd', rows, (r) => r.name, CASES);
  const comparisons: string[] = [];
  for (const r of merged.filter((x) => x.name.startsWith('torch_'))) {
    const ours = merged.find((x) => x.name === r.name.slice('torch_'.length));
    r.tflops = ours ? (ours.tflops * ours.seconds) / r.seconds : NaN;
    if (ours) comparisons.push(`${ours.name}: ours ${ours.seconds.toFixed(1)} s, Python PyTorch eager ${r.seconds.toFixed(1)} s (${(r.seconds / ours.seconds).toFixed(2)}x)`);
  }
  printTable(merged.map((r) => ({ ...r })));
  for (const line of comparisons) console.log(line);
  console.log(`wrote ${writeResult('svd', { threads: torch.getNumThreads(), nativeBf16: torch.nativeBf16, reference_python_unet_seconds: { bf16: 12.4, f32: 23.6 }, rows: merged })}`);
}

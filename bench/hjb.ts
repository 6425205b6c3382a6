// HJB face optimisation: one iteration (VAE decode with gradients + ArcFace + backward into the latent) on
// full-size random weights (SVD's temporal VAE, iResNet-100), whole frames versus the face window. One process
// per case (peak RSS is per process).
//
//   npm run bench -- hjb [full_f32_256] [face_f32_256] [full_f32_512] ... [--frames 14] [--chunk 4] [--face 0.125]
//                        [--margin N (face window, latent pixels; default DEFAULT_HJB_MARGIN)]
//
// (chunks are decoded and backpropagated one after the other, so time grows linearly with the chunks and peak
// memory is one chunk's: a row on fewer frames is named so, e.g. full_f32_512_1frames_chunk1.)
//   npm run bench -- hjb margins [--size 256] [--frames 4] [--margins 0,1,2,3,4,6,8]
//
// Speed cases are named <window>_<dtype>_<size>; rows {name, seconds, peak_rss_mb} accumulate in
// bench/results/hjb.json. `margins` is the margin study: for each margin (latent pixels), the relative difference
// of the face loss and of the latent gradient inside the face boxes between the window and the full path;
// raw numbers in bench/results/hjb-margins.json.
//
// The face: a box --face of the frame wide (default 1/8: a full-body shot, 64 px at 512) and 1.25x as tall,
// drifting one pixel per frame to the right (so a chunk's window is the union of moving boxes).
import { loadavg } from 'node:os';
import * as torch from '../src/torch/index.ts';
import type { DType, Tensor } from '../src/torch/index.ts';
import * as nn from '../src/nn/index.ts';
import { IResNet } from '../src/models/face/iresnet.ts';
import { AutoencoderKLTemporalDecoder } from '../src/models/svd/autoencoder.ts';
import { keyList } from '../src/models/weights-layout.ts';
import type { PixelBox } from '../src/face/face-boxes.ts';
import { HjbFaceOptimizer, type HjbWindowKind } from '../src/pipeline/hjb.ts';
import { DEFAULT_HJB_MARGIN, latentBox, latentFactor, unionLatentBox } from '../src/pipeline/hjb-window.ts';
import { mergeRows, printTable, runCaseProcess, writeResult } from './timing.ts';

interface Settings { frames: number; chunk: number; face: number; margin: number }

interface Row {
  name: string;
  seconds: number;
  peak_rss_mb: number;
  /** Decoded latent pixels over the whole frames' (1 for full). */
  decoded_fraction: number;
  loss: number;
  load_average: number;
  settings: Settings;
}

function models(dtype: DType): { vae: AutoencoderKLTemporalDecoder; recognizer: IResNet } {
  return nn.withInit({ seed: 1, dtype }, () => ({
    vae: AutoencoderKLTemporalDecoder.fromConfig(keyList('vae_svd_temporal').config), recognizer: new IResNet(),
  }));
}

/** One box per frame: `face` of the frame wide, 1.25x as tall, near the top centre, drifting 1 px per frame. */
function faceBoxes(size: number, frames: number, face: number): PixelBox[] {
  const w = Math.round(size * face);
  const h = Math.round(w * 1.25);
  const x = Math.round(size * 0.44);
  const y = Math.round(size * 0.1);
  return Array.from({ length: frames }, (_, k) => [x + k, y, x + k + w, y + h] as PixelBox);
}

function setup(size: number, frames: number, face: number, dtype: DType) {
  const { vae, recognizer } = models(dtype);
  const g = new torch.Generator(2);
  const boxes = faceBoxes(size, frames, face);
  const reference = torch.rand([1, 3, size, size], g).mul(2).sub(1);
  const f = latentFactor(vae);
  const x0 = torch.randn([frames, 4, size / f, size / f], g);
  return { vae, recognizer, boxes, reference, x0, target: { referenceBox: boxes[0], frameBoxes: boxes } };
}

function decodedFraction(boxes: PixelBox[], chunk: number, margin: number, n: number, f: number): number {
  let pixels = 0;
  for (let s = 0; s < boxes.length; s += chunk) {
    const b = unionLatentBox(boxes.slice(s, s + chunk), f, margin, n, n)!;
    pixels += (b[2] - b[0]) * (b[3] - b[1]) * Math.min(chunk, boxes.length - s);
  }
  return pixels / (n * n * boxes.length);
}

function runCase(name: string, s: Settings): Row {
  const [window, dtype, sizeText] = name.split('_') as [HjbWindowKind, DType, string];
  const size = Number(sizeText);
  const { vae, recognizer, reference, x0, target, boxes } = setup(size, s.frames, s.face, dtype);
  const hjb = new HjbFaceOptimizer(vae, recognizer, reference, target, { window, windowMargin: s.margin, decodeChunkSize: s.chunk });
  const t0 = performance.now();
  const { loss } = hjb.lossAndGradient(x0);
  const seconds = (performance.now() - t0) / 1000;
  const f = latentFactor(vae);
  // a row measured on fewer frames or other chunks than the issue's 14 in chunks of 4 says so in its name
  const suffix = `${window === 'face' ? `_m${s.margin}` : ''}${s.frames === 14 ? '' : `_${s.frames}frames`}${s.chunk === 4 ? '' : `_chunk${s.chunk}`}`;
  return {
    name: name + suffix, seconds, peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    decoded_fraction: window === 'full' ? 1 : decodedFraction(boxes, s.chunk, s.margin, size / f, f),
    loss, load_average: loadavg()[0], settings: s,
  };
}

/** Relative L2 difference of a and b over the latent pixels inside each frame's face box. */
function inBoxRelative(a: Tensor, b: Tensor, boxes: PixelBox[], f: number): number {
  return torch.noGrad(() => torch.scope(() => {
    let diff = 0;
    let ref = 0;
    boxes.forEach((box, k) => {
      const [x1, y1, x2, y2] = latentBox(box, f, 0, a.size(-1), a.size(-2));
      const crop = (t: Tensor) => t.select(0, k).narrow(1, y1, y2 - y1).narrow(2, x1, x2 - x1);
      diff += crop(a).sub(crop(b)).square().sum([]).item();
      ref += crop(b).square().sum([]).item();
    });
    return Math.sqrt(diff / ref);
  }));
}

function runMargins(size: number, frames: number, margins: number[], face: number): unknown {
  const { vae, recognizer, reference, x0, target, boxes } = setup(size, frames, face, 'f32');
  const f = latentFactor(vae);
  const path = (window: HjbWindowKind, margin?: number) => {
    const hjb = new HjbFaceOptimizer(vae, recognizer, reference, target, { window, windowMargin: margin, decodeChunkSize: frames });
    const t0 = performance.now();
    const r = hjb.lossAndGradient(x0);
    hjb.dispose();
    return { ...r, seconds: (performance.now() - t0) / 1000 };
  };
  const full = path('full');
  console.log(`full: loss ${full.loss.toPrecision(6)} in ${full.seconds.toFixed(1)} s`);
  const rows = margins.map((m) => {
    const w = path('face', m);
    const win = unionLatentBox(boxes, f, m, size / f, size / f)!;
    const row = {
      margin: m, window: `${win[2] - win[0]}x${win[3] - win[1]}`, decoded_fraction: decodedFraction(boxes, frames, m, size / f, f),
      loss_rel: Math.abs(w.loss - full.loss) / Math.abs(full.loss), grad_rel: inBoxRelative(w.grad, full.grad, boxes, f),
      seconds: w.seconds, load_average: loadavg()[0],
    };
    console.log(JSON.stringify(row));
    return row;
  });
  const chosen = rows.find((r) => r.loss_rel < 1e-2 && r.grad_rel < 1e-2)?.margin;
  printTable(rows.map((r) => ({ margin: r.margin, window: r.window, decoded: r.decoded_fraction, loss_rel: r.loss_rel, grad_rel: r.grad_rel, seconds: r.seconds })));
  console.log(chosen === undefined ? 'no margin keeps both under 1e-2' : `smallest margin with both < 1e-2: ${chosen}`);
  return {
    config: { size, frames, latent: `${size / f}x${size / f}`, boxes, weights: 'random (nn.withInit seed 1), full-size SVD temporal VAE + iResNet-100, f32', latents: 'randn' },
    full: { loss: full.loss, seconds: full.seconds }, rows, smallest_margin_below_0_01: chosen ?? null, threads: torch.getNumThreads(),
  };
}

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
}

function positiveInt(args: string[], name: string, fallback: number): number {
  const v = Number(option(args, name, String(fallback)));
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got '${option(args, name, '')}'`);
  return v;
}

const CASES = ['full_f32_256', 'face_f32_256', 'full_f32_512', 'face_f32_512', 'full_bf16_256', 'face_bf16_256', 'full_bf16_512', 'face_bf16_512'];

export async function run(args: string[]): Promise<void> {
  const settings: Settings = { frames: positiveInt(args, 'frames', 14), chunk: positiveInt(args, 'chunk', 4), face: Number(option(args, 'face', '0.125')),
    margin: Number(option(args, 'margin', String(DEFAULT_HJB_MARGIN))),
  };
  if (!(settings.face > 0 && settings.face <= 0.5)) throw new Error(`--face must be in (0, 0.5], got ${settings.face}`);
  if (args[0] === 'margins') {
    const margins = option(args, 'margins', '0,1,2,3,4,6,8').split(',').map(Number);
    const result = runMargins(positiveInt(args, 'size', 256), positiveInt(args, 'frames', 4), margins, settings.face);
    console.log(`wrote ${writeResult('hjb-margins', result)}`);
    return;
  }
  const only = args.find((a) => a.startsWith('--case='))?.slice(7);
  if (only) {
    console.log(JSON.stringify(runCase(only, settings)));
    return;
  }
  const valued = new Set(['--frames', '--chunk', '--face', '--margin']);
  const wanted = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1]));
  const unknown = wanted.filter((c) => !CASES.includes(c));
  if (unknown.length) throw new Error(`hjb bench: unknown case(s) ${unknown.join(', ')}; cases: ${CASES.join(', ')}, or margins`);
  const cases = wanted.length ? wanted : CASES.filter((c) => c.includes('f32'));
  console.log(`hjb benchmark: one HJB iteration, ${settings.frames} frames in chunks of ${settings.chunk}, face ${settings.face} of the frame wide, ` +
    `full-size random weights, ${torch.getNumThreads()} threads${torch.nativeBf16 ? '' : ' (no native bf16 on this CPU: bf16 GEMMs and convolutions run in f32)'}; one process per case`);
  const rows: Row[] = [];
  for (const c of cases) {
    const row = runCaseProcess<Row>(import.meta.url, c, args);
    rows.push(row);
    console.log(`${c}: ${row.seconds.toFixed(1)} s, peak RSS ${row.peak_rss_mb.toFixed(0)} MB, decoded ${(100 * row.decoded_fraction).toFixed(1)}% (load ${row.load_average.toFixed(1)})`);
  }
  printTable(rows.map((r) => ({ name: r.name, seconds: r.seconds, peak_rss_mb: r.peak_rss_mb, decoded: r.decoded_fraction })));
  // rows measured on fewer frames carry a suffix: order them by the case they start with
  const order = (n: string) => CASES.findIndex((c) => n.startsWith(c));
  const merged = mergeRows('hjb', rows, (r) => r.name, CASES).sort((a, b) => order(a.name) - order(b.name) || a.name.localeCompare(b.name));
  console.log(`wrote ${writeResult('hjb', { threads: torch.getNumThreads(), nativeBf16: torch.nativeBf16, rows: merged })}`);
}

// Camera-motion check for dataset preparation (the paper filters "significant camera motion (such as shot
// changes or background variance)" with CoTracker; we measure the background directly).
//
// Each frame is reduced to grey at a small analysis width. Between consecutive frames, textured background
// blocks (16x16, away from every person's keypoint box grown by a margin) are block-matched (sum of squared
// differences, +-8 px search, then Lucas-Kanade steps for the sub-pixel part). The camera's motion for the pair is the
// component-wise median of the block displacements, which ignores a minority of blocks that follow
// something else (a second person, a waving flag). The match's RMS error, also a median over blocks, is
// the background change a shift cannot explain: a cut or a sudden background change makes it large.
//
// Per clip: `speed` is the median per-pair shift and `excursion` the largest distance of the accumulated
// shift from the first frame, both as fractions of the frame width; `cuts` lists pairs whose residual is
// above the cut threshold. Pairs with too few textured background blocks (plain walls) are not measured.

import type { Image } from '../io/image.ts';
import { isVisible, type PoseFrame } from '../pose/keypoints.ts';

export interface GrayFrame {
  width: number;
  height: number;
  /** Luma in [0, 1], row-major. */
  data: Float32Array;
}

/** Area-averaged grey copy at `width` pixels wide (never upsampled), ITU-R BT.601 luma. */
export function toGray(image: Image, width = 128): GrayFrame {
  const w = Math.min(width, image.width);
  const h = Math.max(1, Math.round((image.height * w) / image.width));
  const out = new Float32Array(w * h);
  const c = image.channels;
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor((y * image.height) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * image.height) / h));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor((x * image.width) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * image.width) / w));
      let sum = 0;
      for (let yy = y0; yy < y1; yy++) {
        for (let xx = x0; xx < x1; xx++) {
          const i = (yy * image.width + xx) * c;
          sum += 0.299 * image.data[i] + 0.587 * image.data[i + 1] + 0.114 * image.data[i + 2];
        }
      }
      out[y * w + x] = sum / ((y1 - y0) * (x1 - x0) * 255);
    }
  }
  return { width: w, height: h, data: out };
}

/** [x1, y1, x2, y2] in normalised coordinates. */
export type NormBox = [number, number, number, number];

/** Every person's box from its visible keypoints (body, hands, face), grown by `margin` of its larger side. */
export function personBoxes(frame: PoseFrame, margin = 0.2): NormBox[] {
  const boxes: NormBox[] = [];
  for (const p of frame.persons) {
    const points = [...p.body, ...p.hands[0], ...p.hands[1], ...p.face].filter((k) => isVisible(k));
    if (points.length === 0) continue;
    const xs = points.map((k) => k[0]);
    const ys = points.map((k) => k[1]);
    const [x1, y1, x2, y2] = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
    const m = margin * Math.max(x2 - x1, y2 - y1, 0.05);
    boxes.push([x1 - m, y1 - m, x2 + m, y2 + m]);
  }
  return boxes;
}

export interface BlockMatchOptions {
  /** Block side in analysis pixels (default 16). */
  block?: number;
  /** Search radius in analysis pixels (default 8). */
  radius?: number;
  /** A block is textured when its standard deviation reaches this (default 0.02, about 5 grey levels). */
  minStd?: number;
  /** Fewer valid blocks than this: the pair is not measured (default 4). */
  minBlocks?: number;
}

export interface PairMotion {
  /** Background shift from the first frame to the second, in analysis pixels. */
  dx: number;
  dy: number;
  /** Median RMS difference of the matched background blocks, in [0, 1] grey units. */
  residual: number;
  /** Background blocks used. */
  blocks: number;
}

/** The median (NaN for no values). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Bilinear sample of a grey frame, clamped at the border. */
function sample(f: GrayFrame, x: number, y: number): number {
  const cx = Math.max(0, Math.min(f.width - 1.000001, x));
  const cy = Math.max(0, Math.min(f.height - 1.000001, y));
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const ax = cx - x0;
  const ay = cy - y0;
  const i = y0 * f.width + x0;
  return (1 - ay) * ((1 - ax) * f.data[i] + ax * f.data[i + 1]) + ay * ((1 - ax) * f.data[i + f.width] + ax * f.data[i + f.width + 1]);
}

/**
 * Sub-pixel refinement of an integer match (u, v) of a's block at (bx, by): Gauss-Newton steps on the
 * squared difference, with a's gradients standing in for b's (Lucas-Kanade); at most one pixel away.
 */
function refineMatch(a: GrayFrame, b: GrayFrame, bx: number, by: number, size: number, u: number, v: number): [number, number] {
  const W = a.width;
  let gxx = 0, gxy = 0, gyy = 0;
  for (let y = by; y < by + size; y++) {
    for (let x = bx; x < bx + size; x++) {
      const gx = (a.data[y * W + x + 1] - a.data[y * W + x - 1]) / 2;
      const gy = (a.data[(y + 1) * W + x] - a.data[(y - 1) * W + x]) / 2;
      gxx += gx * gx; gxy += gx * gy; gyy += gy * gy;
    }
  }
  const det = gxx * gyy - gxy * gxy;
  if (!(det > 1e-12 * (gxx + gyy) ** 2)) return [u, v]; // an edge or flat block: no reliable 2D refinement
  let du = u, dv = v;
  for (let iter = 0; iter < 5; iter++) {
    let ex = 0, ey = 0;
    for (let y = by; y < by + size; y++) {
      for (let x = bx; x < bx + size; x++) {
        const gx = (a.data[y * W + x + 1] - a.data[y * W + x - 1]) / 2;
        const gy = (a.data[(y + 1) * W + x] - a.data[(y - 1) * W + x]) / 2;
        const e = a.data[y * W + x] - sample(b, x + du, y + dv);
        ex += gx * e; ey += gy * e;
      }
    }
    const sx = (gyy * ex - gxy * ey) / det;
    const sy = (gxx * ey - gxy * ex) / det;
    du += sx; dv += sy;
    if (Math.abs(du - u) > 1 || Math.abs(dv - v) > 1) return [u, v];
    if (Math.hypot(sx, sy) < 1e-3) break;
  }
  return [du, dv];
}

/** RMS difference between a's block and b sampled at the displacement (du, dv). */
function blockResidual(a: GrayFrame, b: GrayFrame, bx: number, by: number, size: number, du: number, dv: number): number {
  let sum = 0;
  for (let y = by; y < by + size; y++) {
    for (let x = bx; x < bx + size; x++) sum += (a.data[y * a.width + x] - sample(b, x + du, y + dv)) ** 2;
  }
  return Math.sqrt(sum / (size * size));
}

/**
 * Global background motion between two grey frames of one size, or undefined when fewer than `minBlocks`
 * textured background blocks exist. `exclude` boxes are normalised (persons in either frame).
 */
export function estimateBackgroundMotion(a: GrayFrame, b: GrayFrame, exclude: NormBox[] = [], options: BlockMatchOptions = {}): PairMotion | undefined {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`estimateBackgroundMotion: frames are ${a.width}x${a.height} and ${b.width}x${b.height}`);
  }
  const B = options.block ?? 16;
  const R = options.radius ?? 8;
  const minVar = (options.minStd ?? 0.02) ** 2;
  const { width: W, height: H } = a;
  const overlapsPerson = (x: number, y: number) =>
    exclude.some(([x1, y1, x2, y2]) => x < x2 * W && x + B > x1 * W && y < y2 * H && y + B > y1 * H);
  const dxs: number[] = [];
  const dys: number[] = [];
  const residuals: number[] = [];
  for (let by = R; by + B + R <= H; by += B) {
    for (let bx = R; bx + B + R <= W; bx += B) {
      if (overlapsPerson(bx, by)) continue;
      let s = 0;
      let s2 = 0;
      for (let y = 0; y < B; y++) {
        for (let x = 0; x < B; x++) {
          const v = a.data[(by + y) * W + bx + x];
          s += v;
          s2 += v * v;
        }
      }
      const n = B * B;
      if (s2 / n - (s / n) ** 2 < minVar) continue;
      let best = Infinity;
      let bu = 0;
      let bv = 0;
      for (let v = -R; v <= R; v++) {
        for (let u = -R; u <= R; u++) {
          let ssd = 0;
          for (let y = 0; y < B; y++) {
            const ra = (by + y) * W + bx;
            const rb = (by + y + v) * W + bx + u;
            for (let x = 0; x < B; x++) {
              const d = a.data[ra + x] - b.data[rb + x];
              ssd += d * d;
            }
          }
          if (ssd < best) [best, bu, bv] = [ssd, u, v];
        }
      }
      const [du, dv] = refineMatch(a, b, bx, by, B, bu, bv);
      dxs.push(du);
      dys.push(dv);
      residuals.push(blockResidual(a, b, bx, by, B, du, dv));
    }
  }
  if (dxs.length < (options.minBlocks ?? 4)) return undefined;
  return { dx: median(dxs), dy: median(dys), residual: median(residuals), blocks: dxs.length };
}

export interface CameraMotionSummary {
  /** Frame pairs in the clip, and those with enough textured background to measure. */
  pairs: number;
  measured: number;
  /** Median per-pair background shift, as a fraction of the frame width (NaN when nothing was measured). */
  speed: number;
  /** Largest distance of the accumulated shift from the first frame, as a fraction of the width. */
  excursion: number;
  /** Pair indices (frame i to i+1) whose background residual exceeds the cut threshold. */
  cuts: number[];
  /** Largest residual seen (NaN when nothing was measured). */
  maxResidual: number;
}

/** Summarises per-pair motions (undefined = not measured) measured at `analysisWidth` pixels wide. */
export function summarizeCameraMotion(pairs: (PairMotion | undefined)[], analysisWidth: number, cutResidual: number): CameraMotionSummary {
  const measured = pairs.filter((p): p is PairMotion => p !== undefined);
  let cx = 0;
  let cy = 0;
  let excursion = 0;
  const cuts: number[] = [];
  pairs.forEach((p, i) => {
    if (!p) return;
    if (p.residual > cutResidual) {
      cuts.push(i);
      return; // a cut's "shift" is meaningless; do not accumulate it
    }
    cx += p.dx;
    cy += p.dy;
    excursion = Math.max(excursion, Math.hypot(cx, cy));
  });
  return {
    pairs: pairs.length,
    measured: measured.length,
    speed: measured.length ? median(measured.map((p) => Math.hypot(p.dx, p.dy))) / analysisWidth : Number.NaN,
    excursion: excursion / analysisWidth,
    cuts,
    maxResidual: measured.length ? Math.max(...measured.map((p) => p.residual)) : Number.NaN,
  };
}

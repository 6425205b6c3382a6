// Closed-form similarity fit between a reference pose and a driven pose (paper Sec. III-A, eqs. 2-8):
// centre both point sets, form the 2x2 covariance, take its SVD, build the rotation with the reflection fix,
// then the scale from trace(S·D) over the driven dispersion and the translation between the centroids.
//
// The fit runs in pixel units (x·W, y·H of each frame), so that the rotation is a true rotation of the image
// even when a frame is not square; the result is returned both as pixel-space parameters and as an affine on
// normalised coordinates (see similarity.ts).

import type { PersonPose } from '../pose/keypoints.ts';
import { VISIBLE_THRESHOLD } from '../pose/keypoints.ts';
import { personToArrays } from '../pose/keypoint-arrays.ts';
import type { PosePart } from '../pose/keypoint-arrays.ts';
import { applySimilarity, makeSimilarity } from '../pose/similarity.ts';
import type { FrameSize, Similarity } from '../pose/similarity.ts';

export { applySimilarity } from '../pose/similarity.ts';

/** Row-major 2x2 matrix [a00, a01, a10, a11]. */
export type Mat2 = [number, number, number, number];

export interface Svd2 {
  /** Left singular vectors as columns (orthogonal, det ±1). */
  u: Mat2;
  /** Singular values, descending, non-negative. */
  s: [number, number];
  /** Right singular vectors as columns (a rotation, det +1). */
  v: Mat2;
}

function rot(a: number): Mat2 {
  const c = Math.cos(a);
  const s = Math.sin(a);
  return [c, -s, s, c];
}

export function matMul2(a: Mat2, b: Mat2): Mat2 {
  return [
    a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
    a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3],
  ];
}

export function transpose2(a: Mat2): Mat2 {
  return [a[0], a[2], a[1], a[3]];
}

export function det2(a: Mat2): number {
  return a[0] * a[3] - a[1] * a[2];
}

/**
 * Exact closed-form SVD of a 2x2 matrix, M = U·diag(s)·V^T. M splits into a rotation-like part
 * (E, H) and a reflection-like part (F, G); M = Rot(phi)·diag(Q+R, Q-R)·Rot(theta) with
 * Q = |(E,H)|, R = |(F,G)|, phi = (a2+a1)/2, theta = (a2-a1)/2, a2 = atan2(H,E), a1 = atan2(G,F).
 * When Q < R the second value is negative: its sign moves into U's second column.
 */
export function svd2x2(m: Mat2): Svd2 {
  const e = (m[0] + m[3]) / 2;
  const f = (m[0] - m[3]) / 2;
  const g = (m[2] + m[1]) / 2;
  const h = (m[2] - m[1]) / 2;
  const q = Math.hypot(e, h);
  const r = Math.hypot(f, g);
  const a1 = Math.atan2(g, f);
  const a2 = Math.atan2(h, e);
  const phi = (a2 + a1) / 2;
  const theta = (a2 - a1) / 2;
  const sx = q + r;
  const sy = q - r;
  const sign = sy < 0 ? -1 : 1;
  const u = matMul2(rot(phi), [1, 0, 0, sign]);
  return { u, s: [sx, Math.abs(sy)], v: transpose2(rot(theta)) };
}

/** Too few usable points for a fit (none visible in both poses, or all at one spot). */
export class DegenerateFitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DegenerateFitError';
  }
}

export interface FitOptions {
  /** Pixel size [W, H] of the reference frame (normalised coordinates are multiplied by it). */
  refSize: FrameSize;
  /** Pixel size of the driven frame; defaults to refSize. */
  drivenSize?: FrameSize;
}

export interface SimilarityFit extends Similarity {
  /** Number of keypoints the fit used. */
  count: number;
  /** The 2x2 rotation U·D·V^T (det +1). */
  rotation: Mat2;
  /** Root-mean-square residual of the fitted points, in reference pixels. */
  rmsPixels: number;
}

/**
 * Fits p_ref ≈ scale·R·p_driven + t over the points with mask[i] truthy, in pixel units.
 * `ref` and `driven` are flat normalised [x0, y0, x1, y1, ...] of the same length; `mask` has one entry per point
 * (for the learnable block: one frame's keypoints and the visibility of both poses).
 */
export function fitSimilarityPoints(
  ref: ArrayLike<number>, driven: ArrayLike<number>, mask: ArrayLike<number | boolean>, options: FitOptions,
): SimilarityFit {
  if (ref.length !== driven.length) {
    throw new Error(`fitSimilarity: keypoint counts differ: reference has ${ref.length / 2}, driven has ${driven.length / 2}`);
  }
  if (ref.length % 2 !== 0) throw new Error(`fitSimilarity: coordinate arrays must hold x,y pairs, got length ${ref.length}`);
  const n = ref.length / 2;
  if (mask.length !== n) throw new Error(`fitSimilarity: mask has ${mask.length} entries for ${n} keypoints`);
  const [wr, hr] = options.refSize;
  const [wd, hd] = options.drivenSize ?? options.refSize;

  // Eq. 2: centroids of the visible points, in pixels.
  let count = 0;
  let mrx = 0, mry = 0, mdx = 0, mdy = 0;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    count++;
    mrx += ref[2 * i]! * wr;
    mry += ref[2 * i + 1]! * hr;
    mdx += driven[2 * i]! * wd;
    mdy += driven[2 * i + 1]! * hd;
  }
  if (count === 0) throw new DegenerateFitError('fitSimilarity: no keypoint is visible in both the reference and the driven pose');
  mrx /= count; mry /= count; mdx /= count; mdy /= count;

  // Eq. 3: covariance H = sum (ref - mu_ref)(driven - mu_driven)^T, and the dispersions.
  const cov: Mat2 = [0, 0, 0, 0];
  let dispDriven = 0;
  let dispRef = 0;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const rx = ref[2 * i]! * wr - mrx;
    const ry = ref[2 * i + 1]! * hr - mry;
    const dx = driven[2 * i]! * wd - mdx;
    const dy = driven[2 * i + 1]! * hd - mdy;
    cov[0] += rx * dx; cov[1] += rx * dy;
    cov[2] += ry * dx; cov[3] += ry * dy;
    dispDriven += dx * dx + dy * dy;
    dispRef += rx * rx + ry * ry;
  }
  if (!(dispDriven > 0)) throw new DegenerateFitError(`fitSimilarity: the ${count} driven keypoint(s) used have no spread (need two distinct points)`);
  if (!(dispRef > 0)) throw new DegenerateFitError(`fitSimilarity: the ${count} reference keypoint(s) used have no spread (need two distinct points)`);

  // Eqs. 4-5: SVD, rotation with the reflection fix D = diag(1, sign det(U V^T)).
  const { u, s, v } = svd2x2(cov);
  const d = det2(matMul2(u, transpose2(v))) < 0 ? -1 : 1;
  const rotation = matMul2(matMul2(u, [1, 0, 0, d]), transpose2(v));
  const angle = Math.atan2(rotation[2], rotation[0]);

  // Eq. 6: scale = tr(S·D) / dispersion of the driven points.
  const scale = (s[0] + d * s[1]) / dispDriven;

  // Eq. 7: translation between the centroids after rotation and scaling.
  const tx = mrx - scale * (rotation[0] * mdx + rotation[1] * mdy);
  const ty = mry - scale * (rotation[2] * mdx + rotation[3] * mdy);

  // Residual of the fitted points, summed directly (the closed form dispRef - scale·tr(S·D) cancels badly).
  let residual = 0;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const dx = driven[2 * i]! * wd;
    const dy = driven[2 * i + 1]! * hd;
    const ex = ref[2 * i]! * wr - (scale * (rotation[0] * dx + rotation[1] * dy) + tx);
    const ey = ref[2 * i + 1]! * hr - (scale * (rotation[2] * dx + rotation[3] * dy) + ty);
    residual += ex * ex + ey * ey;
  }
  const sim = makeSimilarity(angle, scale, [tx, ty], [wd, hd], [wr, hr]);
  return { ...sim, count, rotation, rmsPixels: Math.sqrt(residual / count) };
}

export interface PoseFitOptions extends FitOptions {
  /** Which keypoints take part in the fit; default body only. */
  parts?: readonly PosePart[];
  /** Visibility threshold on scores; default VISIBLE_THRESHOLD. */
  threshold?: number;
}

/** Fits the similarity that maps `driven` onto `reference` using the keypoints visible in both. */
export function fitSimilarity(reference: PersonPose, driven: PersonPose, options: PoseFitOptions): SimilarityFit {
  return fitSimilarityMany([reference], [driven], options);
}

/** One similarity for several (reference, driven) pairs at once: their points are pooled into one fit. */
export function fitSimilarityMany(
  references: readonly PersonPose[], drivens: readonly PersonPose[], options: PoseFitOptions,
): SimilarityFit {
  if (drivens.length === 0) throw new Error('fitSimilarity: the driven sequence is empty');
  if (references.length !== drivens.length) {
    throw new Error(`fitSimilarity: ${references.length} reference poses for ${drivens.length} driven poses`);
  }
  const parts = options.parts ?? ['body'];
  const threshold = options.threshold ?? VISIBLE_THRESHOLD;
  const refs = references.map((p) => personToArrays(p, parts, threshold));
  const drvs = drivens.map((p) => personToArrays(p, parts, threshold));
  const total = refs.reduce((acc, r) => acc + r.mask.length, 0);
  const ref = new Float64Array(total * 2);
  const drv = new Float64Array(total * 2);
  const mask = new Uint8Array(total);
  let offset = 0;
  for (let f = 0; f < refs.length; f++) {
    const r = refs[f]!;
    const d = drvs[f]!;
    if (r.mask.length !== d.mask.length) {
      throw new Error(`fitSimilarity: keypoint counts differ in pair ${f}: reference has ${r.mask.length}, driven has ${d.mask.length}`);
    }
    ref.set(r.xy, offset * 2);
    drv.set(d.xy, offset * 2);
    for (let i = 0; i < r.mask.length; i++) mask[offset + i] = r.mask[i]! & d.mask[i]!;
    offset += r.mask.length;
  }
  return fitSimilarityPoints(ref, drv, mask, options);
}

export interface SvdAlignOptions extends PoseFitOptions {
  /**
   * 'per-frame' (default): each driven frame gets its own fit to the reference (the paper's T_svd, one
   * transform per frame); a frame with fewer than two usable points falls back to the sequence fit.
   * 'sequence': one fit over all frames, the reference repeated (like the polyfit baseline).
   */
  mode?: 'per-frame' | 'sequence';
}

export interface SvdAlignResult {
  aligned: PersonPose[];
  transforms: Similarity[];
}

/** The SVD baseline: aligns every driven frame to the reference and applies the fit to body, hands and face. */
export function alignSequenceSvd(
  reference: PersonPose, driven: readonly PersonPose[], options: SvdAlignOptions,
): SvdAlignResult {
  if (driven.length === 0) throw new Error('alignSequenceSvd: the driven sequence is empty');
  const mode = options.mode ?? 'per-frame';
  let pooled: SimilarityFit | undefined;
  const sequenceFit = (): SimilarityFit => (pooled ??= fitSimilarityMany(driven.map(() => reference), driven, options));
  const transforms: Similarity[] = driven.map((frame) => {
    if (mode === 'sequence') return sequenceFit();
    try {
      return fitSimilarity(reference, frame, options);
    } catch (err) {
      if (err instanceof DegenerateFitError) return sequenceFit();
      throw err;
    }
  });
  return { aligned: driven.map((frame, i) => applySimilarity(frame, transforms[i]!)), transforms };
}

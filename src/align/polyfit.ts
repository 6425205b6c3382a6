// The rule-based alignment of StableAnimator's `get_video_pose` (identical to MimicMotion's and ControlNeXt's
// but for the aspect handling): a per-axis scale and offset, p' = p·[ax, ay] + [bx, by], fitted once for the
// whole driven video.
//   1. Keypoint ids [0,1,2,5,8,9,...,17] (nose, neck, shoulders, hips, legs, eyes, ears), kept where the
//      reference's first person has them visible.
//   2. Driven frames that hold exactly one person, at those ids (their coordinates are used whatever their
//      scores, as in the reference code).
//   3. ay, by = least-squares line through (driven y, reference y), i.e. np.polyfit(det_y, ref_y, 1).
//   4. ax from ay by the aspect rule; bx = mean(ref_x - det_x·ax).
//   5. Applied to the body, hands and face of every person in every frame; scores are kept.

import type { PersonPose, PoseFrame } from '../pose/keypoints.ts';
import { NUM_BODY, VISIBLE_THRESHOLD } from '../pose/keypoints.ts';
import { applySimilarity } from '../pose/similarity.ts';
import type { Affine2D, FrameSize } from '../pose/similarity.ts';

/** StableAnimator's and MimicMotion's ids: all body points except the arms below the shoulders. */
export const STABLEANIMATOR_KEYPOINT_IDS: readonly number[] = [0, 1, 2, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
/** ControlNeXt's shorter list (no knees or ankles). */
export const CONTROLNEXT_KEYPOINT_IDS: readonly number[] = [0, 1, 2, 5, 8, 11, 14, 15, 16, 17];

export interface PolyfitOptions {
  /** Pixel size [W, H] of the reference image. */
  refSize: FrameSize;
  /** Pixel size [W, H] of the driven video's frames; only the 'mimicmotion' aspect rule uses it. */
  drivenSize?: FrameSize;
  /**
   * 'stableanimator' (default): ax = ay, since StableAnimator passes the reference's own H, W as the video's.
   * 'mimicmotion': ax = ay·(fw/fh)·(H/W), which keeps the pixel aspect when the video and reference differ.
   */
  aspect?: 'stableanimator' | 'mimicmotion';
  keypointIds?: readonly number[];
  /** Reference keypoints below this score are left out; default VISIBLE_THRESHOLD. */
  threshold?: number;
}

export interface PolyfitResult {
  /** [ax, ay] */
  a: [number, number];
  /** [bx, by] */
  b: [number, number];
  /** The ids actually used (visible in the reference). */
  keypointIds: number[];
  /** Indices of the driven frames that entered the fit (those with exactly one person). */
  framesUsed: number[];
  /** Every driven frame, transformed. */
  frames: PoseFrame[];
}

/** Least-squares line y ≈ slope·x + intercept (np.polyfit(x, y, 1)). */
export function fitLine(xs: ArrayLike<number>, ys: ArrayLike<number>): { slope: number; intercept: number } {
  const n = xs.length;
  if (n !== ys.length) throw new Error(`fitLine: ${n} x values for ${ys.length} y values`);
  if (n < 2) throw new Error(`fitLine: need at least two points, got ${n}`);
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += xs[i]!; my += ys[i]!; }
  mx /= n; my /= n;
  let sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    sxx += dx * dx;
    sxy += dx * (ys[i]! - my);
  }
  if (!(sxx > 0)) throw new Error('fitLine: all x values are equal, the line is undetermined');
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** The scale-and-offset as an affine on normalised coordinates. */
export function polyfitAffine(a: readonly [number, number], b: readonly [number, number]): Affine2D {
  return [a[0], 0, b[0], 0, a[1], b[1]];
}

export function polyfitAlign(reference: PersonPose, driven: readonly PoseFrame[], options: PolyfitOptions): PolyfitResult {
  if (driven.length === 0) throw new Error('polyfitAlign: the driven sequence is empty');
  if (reference.body.length !== NUM_BODY) {
    throw new Error(`polyfitAlign: the reference body has ${reference.body.length} keypoints, expected ${NUM_BODY}`);
  }
  const threshold = options.threshold ?? VISIBLE_THRESHOLD;
  const ids = (options.keypointIds ?? STABLEANIMATOR_KEYPOINT_IDS).filter((i) => reference.body[i]![2] >= threshold);
  if (ids.length === 0) throw new Error('polyfitAlign: no keypoint used for alignment is visible in the reference');

  const framesUsed: number[] = [];
  driven.forEach((frame, f) => { if (frame.persons.length === 1) framesUsed.push(f); });
  if (framesUsed.length === 0) {
    throw new Error(`polyfitAlign: none of the ${driven.length} driven frames has exactly one person`);
  }
  const detX: number[] = [];
  const detY: number[] = [];
  const refX: number[] = [];
  const refY: number[] = [];
  for (const f of framesUsed) {
    const body = driven[f]!.persons[0]!.body;
    if (body.length !== NUM_BODY) {
      throw new Error(`polyfitAlign: driven frame ${f} has ${body.length} body keypoints, expected ${NUM_BODY}`);
    }
    for (const i of ids) {
      detX.push(body[i]![0]);
      detY.push(body[i]![1]);
      refX.push(reference.body[i]![0]);
      refY.push(reference.body[i]![1]);
    }
  }
  const { slope: ay, intercept: by } = fitLine(detY, refY);

  const [refW, refH] = options.refSize;
  let ax = ay;
  if ((options.aspect ?? 'stableanimator') === 'mimicmotion') {
    const [fw, fh] = options.drivenSize ?? options.refSize;
    ax = ay / (fh / fw / refH * refW);
  }
  let bx = 0;
  for (let k = 0; k < refX.length; k++) bx += refX[k]! - detX[k]! * ax;
  bx /= refX.length;

  const a: [number, number] = [ax, ay];
  const b: [number, number] = [bx, by];
  const m = polyfitAffine(a, b);
  const frames = driven.map((frame) => ({ persons: frame.persons.map((p) => applySimilarity(p, m)) }));
  return { a, b, keypointIds: ids, framesUsed, frames };
}

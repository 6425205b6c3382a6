// The inputs of the learnable alignment block, built on the host from (reference, driven) person pairs and
// their closed-form SVD fit, batched over frames.
//
// Coordinates enter the block in "aspect space": a = ((x - 0.5)·W, (y - 0.5)·H) / max(W, H), i.e. pixels
// centred on the frame centre and divided by the frame's longer side. The space is isotropic (a rotation there
// is a rotation of the image, as in the SVD fit's pixel space) and of order one for any frame size.
//
// Per keypoint k of frame b:
//   tokens[b, k] = [ref_x, ref_y, ref_vis, drv_x, drv_y, drv_vis]   (E1: reference and driven, eq. 1)
//   guide[b, k]  = [svd_x, svd_y, drv_vis]                           (E2: the SVD-aligned driven pose, eq. 8)
// with x, y = 2·a (reference in the reference frame's space; driven in the driven frame's; SVD-aligned in the
// reference frame's) and set to 0 where the point is missing (score < threshold), so a missing point's
// coordinates never enter the block. tokenMask = ref_vis or drv_vis, guideMask = drv_vis.

import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import type { PersonPose } from '../pose/keypoints.ts';
import { VISIBLE_THRESHOLD } from '../pose/keypoints.ts';
import { personToArrays } from '../pose/keypoint-arrays.ts';
import type { PosePart } from '../pose/keypoint-arrays.ts';
import type { FrameSize, Similarity } from '../pose/similarity.ts';

export const TOKEN_FEATURES = 6;
export const GUIDE_FEATURES = 3;
/** Input coordinates are 2·a, so a frame spans about [-1, 1]. */
const INPUT_GAIN = 2;

export interface AlignmentPair {
  reference: PersonPose;
  driven: PersonPose;
  refSize: FrameSize;
  drivenSize: FrameSize;
  /** The closed-form fit driven -> reference (pixel space), e.g. from fitSimilarity / alignSequenceSvd. */
  svd: Similarity;
  /** Ground truth for training: the driven pose before misalignment, in the reference frame's coordinates. */
  target?: PersonPose;
}

export interface AlignmentBatchOptions {
  /** Keypoints the block sees; default body (the 18 points the model is built for). */
  parts?: readonly PosePart[];
  threshold?: number;
}

/** Host-side batch, row-major, B = pairs.length, K = keypoints per pose. */
export interface AlignmentBatch {
  size: number;
  numKeypoints: number;
  tokens: Float32Array;     // [B, K, 6]
  guide: Float32Array;      // [B, K, 3]
  tokenMask: Uint8Array;    // [B, K]
  guideMask: Uint8Array;    // [B, K]
  /** SVD-aligned driven points in the reference frame's aspect space (all points, missing ones too). [B, K, 2] */
  svdPoints: Float64Array;
  /** Centre of the correction: mean of the visible SVD-aligned points. [B, 2] */
  centres: Float64Array;
  /** Per pair [S/W, S/H] of the reference frame: aspect -> normalised scale (then + 0.5). [B, 2] */
  aspectToNorm: Float64Array;
  /** Ground truth in normalised reference coordinates and its mask, when every pair has a target. */
  target?: Float64Array;    // [B, K, 2]
  targetMask?: Uint8Array;  // [B, K]
}

/** The batch as tensors (f32; masks as f32 0/1). */
export interface AlignmentTensors {
  tokens: Tensor;
  guide: Tensor;
  tokenMask: Tensor;
  guideMask: Tensor;
  svdPoints: Tensor;
  centres: Tensor;
  aspectToNorm: Tensor;
  target?: Tensor;
  targetMask?: Tensor;
}

export function aspectScale(size: FrameSize): [number, number] {
  const [w, h] = size;
  if (!(w > 0 && h > 0)) throw new Error(`frame size must be positive, got [${w}, ${h}]`);
  const s = Math.max(w, h);
  return [w / s, h / s];
}

export function buildAlignmentBatch(pairs: readonly AlignmentPair[], options: AlignmentBatchOptions = {}): AlignmentBatch {
  if (pairs.length === 0) throw new Error('buildAlignmentBatch: no (reference, driven) pairs');
  const parts = options.parts ?? ['body'];
  const threshold = options.threshold ?? VISIBLE_THRESHOLD;
  const first = personToArrays(pairs[0]!.reference, parts, threshold);
  const K = first.mask.length;
  const B = pairs.length;
  const withTarget = pairs.every((p) => p.target !== undefined);
  const batch: AlignmentBatch = {
    size: B,
    numKeypoints: K,
    tokens: new Float32Array(B * K * TOKEN_FEATURES),
    guide: new Float32Array(B * K * GUIDE_FEATURES),
    tokenMask: new Uint8Array(B * K),
    guideMask: new Uint8Array(B * K),
    svdPoints: new Float64Array(B * K * 2),
    centres: new Float64Array(B * 2),
    aspectToNorm: new Float64Array(B * 2),
    ...(withTarget ? { target: new Float64Array(B * K * 2), targetMask: new Uint8Array(B * K) } : {}),
  };
  pairs.forEach((pair, b) => {
    const ref = personToArrays(pair.reference, parts, threshold);
    const drv = personToArrays(pair.driven, parts, threshold);
    if (ref.mask.length !== K || drv.mask.length !== K) {
      throw new Error(`buildAlignmentBatch: pair ${b} has ${ref.mask.length} reference and ${drv.mask.length} driven keypoints, expected ${K}`);
    }
    const [rsx, rsy] = aspectScale(pair.refSize);
    const [dsx, dsy] = aspectScale(pair.drivenSize);
    batch.aspectToNorm[2 * b] = 1 / rsx;
    batch.aspectToNorm[2 * b + 1] = 1 / rsy;
    const m = pair.svd.matrix;
    let visible = 0, cx = 0, cy = 0;
    for (let k = 0; k < K; k++) {
      const i = b * K + k;
      const rv = ref.mask[k]!, dv = drv.mask[k]!;
      const t = i * TOKEN_FEATURES;
      if (rv) {
        batch.tokens[t] = INPUT_GAIN * (ref.xy[2 * k]! - 0.5) * rsx;
        batch.tokens[t + 1] = INPUT_GAIN * (ref.xy[2 * k + 1]! - 0.5) * rsy;
        batch.tokens[t + 2] = 1;
      }
      if (dv) {
        batch.tokens[t + 3] = INPUT_GAIN * (drv.xy[2 * k]! - 0.5) * dsx;
        batch.tokens[t + 4] = INPUT_GAIN * (drv.xy[2 * k + 1]! - 0.5) * dsy;
        batch.tokens[t + 5] = 1;
      }
      batch.tokenMask[i] = rv | dv;
      batch.guideMask[i] = dv;
      // The SVD-aligned point (normalised reference coordinates) -> aspect space.
      const x = drv.xy[2 * k]!, y = drv.xy[2 * k + 1]!;
      const ax = (m[0] * x + m[1] * y + m[2] - 0.5) * rsx;
      const ay = (m[3] * x + m[4] * y + m[5] - 0.5) * rsy;
      batch.svdPoints[2 * i] = ax;
      batch.svdPoints[2 * i + 1] = ay;
      if (dv) {
        const g = i * GUIDE_FEATURES;
        batch.guide[g] = INPUT_GAIN * ax;
        batch.guide[g + 1] = INPUT_GAIN * ay;
        batch.guide[g + 2] = 1;
        visible++;
        cx += ax;
        cy += ay;
      }
    }
    if (visible === 0) throw new Error(`buildAlignmentBatch: pair ${b}: the driven pose has no visible keypoint (score >= ${threshold})`);
    batch.centres[2 * b] = cx / visible;
    batch.centres[2 * b + 1] = cy / visible;
    if (withTarget) {
      const tgt = personToArrays(pair.target!, parts, threshold);
      if (tgt.mask.length !== K) throw new Error(`buildAlignmentBatch: pair ${b} target has ${tgt.mask.length} keypoints, expected ${K}`);
      batch.target!.set(tgt.xy, b * K * 2);
      for (let k = 0; k < K; k++) batch.targetMask![b * K + k] = tgt.mask[k]! & drv.mask[k]!;
    }
  });
  return batch;
}

export function batchToTensors(batch: AlignmentBatch): AlignmentTensors {
  const { size: B, numKeypoints: K } = batch;
  const f32 = (a: ArrayLike<number>, shape: number[]) => torch.tensor(Float32Array.from(a), { shape });
  return {
    tokens: torch.tensor(batch.tokens, { shape: [B, K, TOKEN_FEATURES] }),
    guide: torch.tensor(batch.guide, { shape: [B, K, GUIDE_FEATURES] }),
    tokenMask: f32(batch.tokenMask, [B, K]),
    guideMask: f32(batch.guideMask, [B, K]),
    svdPoints: f32(batch.svdPoints, [B, K, 2]),
    centres: f32(batch.centres, [B, 2]),
    aspectToNorm: f32(batch.aspectToNorm, [B, 2]),
    ...(batch.target ? { target: f32(batch.target, [B, K, 2]), targetMask: f32(batch.targetMask!, [B, K]) } : {}),
  };
}

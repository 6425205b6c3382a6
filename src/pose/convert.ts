// COCO keypoint layouts to our model (OpenPose-18 body + 2x21 hands + 68 face), the way DWPose converts its
// COCO-WholeBody output: a neck inserted as the mean of the shoulders, then the OpenPose-18 remap; the six
// foot points are dropped.
//
// COCO-WholeBody-133: 0-16 body (COCO-17), 17-22 feet, 23-90 face, 91-111 left hand, 112-132 right hand.
// COCO-17 body: nose, left/right eye, left/right ear, left/right shoulder, elbow, wrist, hip, knee, ankle.

import { NUM_FACE, NUM_HAND, VISIBLE_THRESHOLD, type Keypoint, type PersonPose } from './keypoints.ts';

/** For each OpenPose-18 joint, its COCO-17 index (the neck, -1, is derived from the shoulders). */
export const OPENPOSE_FROM_COCO17: readonly number[] = [0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3];

const COCO_LEFT_SHOULDER = 5;
const COCO_RIGHT_SHOULDER = 6;
const WHOLEBODY_FACE = 23;
const WHOLEBODY_LEFT_HAND = 91;
const WHOLEBODY_RIGHT_HAND = 112;
export const NUM_COCO17 = 17;
export const NUM_WHOLEBODY = 133;

/** Keypoints in pixels with a score each: `xy[2i], xy[2i+1]`, `scores[i]`. */
export interface PixelKeypoints {
  xy: ArrayLike<number>;
  scores: ArrayLike<number>;
}

function normalised(points: PixelKeypoints, i: number, size: readonly [number, number]): Keypoint {
  return [points.xy[2 * i] / size[0], points.xy[2 * i + 1] / size[1], points.scores[i]];
}

/**
 * OpenPose-18 body from COCO-17 points (the first 17 of any COCO layout), coordinates divided by `size`
 * ([width, height]). The neck is the mean of the shoulders, with score 1 when both shoulder scores are above 0.3
 * and 0 otherwise, as DWPose computes it.
 */
export function openposeBodyFromCoco(points: PixelKeypoints, size: readonly [number, number]): Keypoint[] {
  const { xy, scores } = points;
  const [l, r] = [COCO_LEFT_SHOULDER, COCO_RIGHT_SHOULDER];
  // In pixels first, then normalised, as DWPose does.
  const neck: Keypoint = [
    (xy[2 * l] + xy[2 * r]) / 2 / size[0],
    (xy[2 * l + 1] + xy[2 * r + 1]) / 2 / size[1],
    scores[l] > VISIBLE_THRESHOLD && scores[r] > VISIBLE_THRESHOLD ? 1 : 0,
  ];
  return OPENPOSE_FROM_COCO17.map((coco) => (coco < 0 ? neck : normalised(points, coco, size)));
}

function missing(count: number): Keypoint[] {
  return Array.from({ length: count }, (): Keypoint => [0, 0, 0]);
}

function range(points: PixelKeypoints, start: number, count: number, size: readonly [number, number]): Keypoint[] {
  return Array.from({ length: count }, (_, i) => normalised(points, start + i, size));
}

/** A person from COCO-17 points: body only, hands and face missing. */
export function personFromCoco17(points: PixelKeypoints, size: readonly [number, number]): PersonPose {
  checkCount(points, NUM_COCO17);
  return { body: openposeBodyFromCoco(points, size), hands: [missing(NUM_HAND), missing(NUM_HAND)], face: missing(NUM_FACE) };
}

/** A person from COCO-WholeBody-133 points (a detector's output or ground truth). */
export function personFromWholeBody(points: PixelKeypoints, size: readonly [number, number]): PersonPose {
  checkCount(points, NUM_WHOLEBODY);
  return {
    body: openposeBodyFromCoco(points, size),
    hands: [range(points, WHOLEBODY_LEFT_HAND, NUM_HAND, size), range(points, WHOLEBODY_RIGHT_HAND, NUM_HAND, size)],
    face: range(points, WHOLEBODY_FACE, NUM_FACE, size),
  };
}

function checkCount(points: PixelKeypoints, count: number): void {
  if (points.xy.length < 2 * count || points.scores.length < count) {
    throw new Error(`expected ${count} keypoints, got ${points.xy.length / 2} positions and ${points.scores.length} scores`);
  }
}

/**
 * COCO annotation triplets `[x, y, v, ...]` to positions and scores. v = 0 (not labelled) gives score 0,
 * v = 2 (visible) gives 1, v = 1 (labelled but occluded) gives `occludedScore` (default 1: the position is
 * known, which is what drawing and alignment need). COCO-WholeBody also stores fractional confidences for some
 * hand points; a value strictly between 0 and 1 is kept as the score.
 */
export function keypointsFromCocoTriplets(triplets: ArrayLike<number>, occludedScore = 1): { xy: Float64Array; scores: Float64Array } {
  const n = Math.floor(triplets.length / 3);
  const xy = new Float64Array(2 * n);
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xy[2 * i] = triplets[3 * i];
    xy[2 * i + 1] = triplets[3 * i + 1];
    const v = triplets[3 * i + 2];
    scores[i] = v >= 2 ? 1 : v === 1 ? occludedScore : Math.min(Math.max(v, 0), 1);
  }
  return { xy, scores };
}

/** A COCO (or COCO-WholeBody) person annotation, as in the dataset's JSON. */
export interface CocoPersonAnnotation {
  keypoints: number[];
  foot_kpts?: number[];
  face_kpts?: number[];
  lefthand_kpts?: number[];
  righthand_kpts?: number[];
  face_valid?: boolean;
  lefthand_valid?: boolean;
  righthand_valid?: boolean;
}

/**
 * A person from a COCO annotation of an image of `size` ([width, height]). COCO-WholeBody's face and hand
 * parts are used when present; a part flagged invalid counts as missing.
 */
export function personFromCocoAnnotation(
  ann: CocoPersonAnnotation,
  size: readonly [number, number],
  options: { occludedScore?: number } = {},
): PersonPose {
  const hasWholeBody = ann.face_kpts !== undefined && ann.lefthand_kpts !== undefined && ann.righthand_kpts !== undefined;
  if (!hasWholeBody) return personFromCoco17(keypointsFromCocoTriplets(ann.keypoints, options.occludedScore), size);
  const part = (triplets: number[] | undefined, valid: boolean | undefined, count: number) =>
    valid === false || !triplets ? new Array(3 * count).fill(0) : triplets;
  const all = [
    ...ann.keypoints,
    ...part(ann.foot_kpts, true, 6),
    ...part(ann.face_kpts, ann.face_valid, NUM_FACE),
    ...part(ann.lefthand_kpts, ann.lefthand_valid, NUM_HAND),
    ...part(ann.righthand_kpts, ann.righthand_valid, NUM_HAND),
  ];
  return personFromWholeBody(keypointsFromCocoTriplets(all, options.occludedScore), size);
}

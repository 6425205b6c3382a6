// Dis, the paper's pose-alignment metric (Table III): the mean Euclidean distance between aligned keypoints
// and their ground truth.
//
// What is included: by default the 18 body keypoints only; `parts` adds the 2x21 hand and 68 face points. A
// keypoint counts when its score is >= threshold in both the aligned and the ground-truth pose (alignment
// keeps scores, so in practice the ground truth's visibility decides). Distances are taken in normalised
// coordinates (x / W, y / H, as the keypoints are stored) and averaged over every counted keypoint of every
// frame, so long clips and well-detected frames weigh more than short or sparse ones.

import type { PersonPose } from '../pose/keypoints.ts';
import { VISIBLE_THRESHOLD } from '../pose/keypoints.ts';
import { selectKeypoints } from '../pose/keypoint-arrays.ts';
import type { PosePart } from '../pose/keypoint-arrays.ts';

export interface PoseDistanceOptions {
  /** Default ['body']. */
  parts?: readonly PosePart[];
  /** Default VISIBLE_THRESHOLD. */
  threshold?: number;
}

export interface PoseDistance {
  /** Mean distance over the counted keypoints (NaN when none). */
  mean: number;
  /** Sum of the distances and the number of keypoints counted, for pooling over several calls. */
  sum: number;
  count: number;
}

export function poseDistance(
  aligned: readonly PersonPose[], groundTruth: readonly PersonPose[], options: PoseDistanceOptions = {},
): PoseDistance {
  if (aligned.length !== groundTruth.length) {
    throw new Error(`poseDistance: ${aligned.length} aligned frames for ${groundTruth.length} ground-truth frames`);
  }
  const parts = options.parts ?? ['body'];
  const threshold = options.threshold ?? VISIBLE_THRESHOLD;
  let sum = 0;
  let count = 0;
  aligned.forEach((pose, f) => {
    const a = selectKeypoints(pose, parts);
    const g = selectKeypoints(groundTruth[f]!, parts);
    if (a.length !== g.length) throw new Error(`poseDistance: frame ${f} has ${a.length} aligned and ${g.length} ground-truth keypoints`);
    for (let i = 0; i < a.length; i++) {
      const [ax, ay, as] = a[i]!;
      const [gx, gy, gs] = g[i]!;
      if (as < threshold || gs < threshold) continue;
      sum += Math.hypot(ax - gx, ay - gy);
      count++;
    }
  });
  return { mean: count > 0 ? sum / count : Number.NaN, sum, count };
}

/** Pools several poseDistance results into one mean over all their keypoints. */
export function poolDistances(results: readonly PoseDistance[]): PoseDistance {
  const sum = results.reduce((acc, r) => acc + r.sum, 0);
  const count = results.reduce((acc, r) => acc + r.count, 0);
  return { mean: count > 0 ? sum / count : Number.NaN, sum, count };
}

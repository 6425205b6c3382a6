// The training loss of the alignment block (eq. 12): the mean Euclidean distance, over the visible keypoints
// of every frame, between the aligned pose and the driven pose before misalignment (normalised coordinates,
// as the Dis metric measures it).

import type { Tensor } from '../torch/index.ts';

/** Keeps the gradient of the distance finite where a point is matched exactly. */
const DISTANCE_EPS = 1e-12;

/** aligned, target [B, K, 2]; mask [B, K] (1 = counted) -> scalar mean distance. */
export function alignmentLoss(aligned: Tensor, target: Tensor, mask: Tensor): Tensor {
  if (aligned.shape.join() !== target.shape.join()) {
    throw new Error(`alignmentLoss: aligned [${aligned.shape}] and target [${target.shape}] differ in shape`);
  }
  if (mask.shape.join() !== aligned.shape.slice(0, -1).join()) {
    throw new Error(`alignmentLoss: mask [${mask.shape}] does not match the points [${aligned.shape}]`);
  }
  const count = mask.sum().item();
  if (!(count > 0)) throw new Error('alignmentLoss: no visible keypoint to measure');
  const dist = aligned.sub(target).square().sum([-1]).add(DISTANCE_EPS).sqrt();
  return dist.mul(mask).sum().div(count);
}

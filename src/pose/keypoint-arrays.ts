// Flat float64 views of keypoints with visibility masks: the form the SVD fit and the learnable alignment
// block consume (one row of N points per frame, xy interleaved, mask 1 where the point is visible).

import { NUM_BODY, NUM_FACE, NUM_HAND, VISIBLE_THRESHOLD } from './keypoints.ts';
import type { Keypoint, PersonPose } from './keypoints.ts';

export type PosePart = 'body' | 'hands' | 'face';

export interface KeypointArrays {
  /** [x0, y0, x1, y1, ...], normalised coordinates. */
  xy: Float64Array;
  /** 1 where the keypoint's score >= threshold, else 0. */
  mask: Uint8Array;
}

/** Number of points `personToArrays` yields for these parts. */
export function pointCount(parts: readonly PosePart[]): number {
  let n = 0;
  for (const part of parts) n += part === 'body' ? NUM_BODY : part === 'hands' ? 2 * NUM_HAND : NUM_FACE;
  return n;
}

/** The keypoints of the chosen parts in a fixed order: body, then left and right hand, then face. */
export function selectKeypoints(person: PersonPose, parts: readonly PosePart[] = ['body']): Keypoint[] {
  const out: Keypoint[] = [];
  if (parts.includes('body')) out.push(...person.body);
  if (parts.includes('hands')) out.push(...person.hands[0], ...person.hands[1]);
  if (parts.includes('face')) out.push(...person.face);
  return out;
}

export function keypointsToArrays(points: readonly Keypoint[], threshold = VISIBLE_THRESHOLD): KeypointArrays {
  const xy = new Float64Array(points.length * 2);
  const mask = new Uint8Array(points.length);
  points.forEach(([x, y, score], i) => {
    xy[2 * i] = x;
    xy[2 * i + 1] = y;
    mask[i] = score >= threshold ? 1 : 0;
  });
  return { xy, mask };
}

export function personToArrays(
  person: PersonPose, parts: readonly PosePart[] = ['body'], threshold = VISIBLE_THRESHOLD,
): KeypointArrays {
  return keypointsToArrays(selectKeypoints(person, parts), threshold);
}

// DWPose's in-memory pose dict (what `DWposeDetector.__call__` returns and `draw_pose` consumes) to our
// PoseFrame. The dict holds N persons as:
//   candidate (N*18, 2) normalised xy, subset (N, 18) candidate index or -1, score (N, 18),
//   hands (2N, 21, 2) with every person's left hand first, then every right hand; hands_score (2N, 21),
//   faces (N, 68, 2), faces_score (N, 68).
// The body arrays sit either under `bodies` (DWPose) or at the top level.

import { NUM_BODY, NUM_FACE, NUM_HAND, VISIBLE_THRESHOLD, type Keypoint, type PersonPose, type PoseFrame } from './keypoints.ts';

type Xy = readonly number[];

export interface DwposeBodies {
  candidate: readonly Xy[];
  subset: readonly (readonly number[])[];
  score?: readonly (readonly number[])[];
}

export interface DwposeDict extends Partial<DwposeBodies> {
  bodies?: DwposeBodies;
  hands?: readonly (readonly Xy[])[];
  hands_score?: readonly (readonly number[])[];
  faces?: readonly (readonly Xy[])[];
  faces_score?: readonly (readonly number[])[];
}

function points(xy: readonly Xy[] | undefined, scores: readonly number[] | undefined, count: number): Keypoint[] {
  return Array.from({ length: count }, (_, i): Keypoint => {
    const p = xy?.[i];
    if (!p) return [0, 0, 0];
    // Dicts without scores (older DWPose ports) mean "detected".
    return [p[0], p[1], scores ? scores[i] : 1];
  });
}

/**
 * Converts a DWPose dict to a PoseFrame. Body scores are kept as they are, except that a joint the dict marks
 * missing (subset -1) never keeps a score above the threshold: DWPose sets -1 exactly when score <= 0.3, and a
 * dict whose subset disagrees is trusted on the subset.
 */
export function poseFrameFromDwposeDict(dict: DwposeDict): PoseFrame {
  const bodies = dict.bodies ?? dict;
  const candidate = bodies.candidate ?? [];
  const subset = bodies.subset ?? [];
  const n = subset.length;
  const persons: PersonPose[] = [];
  for (let p = 0; p < n; p++) {
    const body = Array.from({ length: NUM_BODY }, (_, j): Keypoint => {
      const index = subset[p][j];
      const at = candidate[index >= 0 ? index : NUM_BODY * p + j];
      if (!at) return [0, 0, 0];
      const raw = bodies.score?.[p]?.[j] ?? (index >= 0 ? 1 : 0);
      const score = index < 0 && raw > VISIBLE_THRESHOLD ? 0 : raw;
      return [at[0], at[1], score];
    });
    persons.push({
      body,
      hands: [
        points(dict.hands?.[p], dict.hands_score?.[p], NUM_HAND),
        points(dict.hands?.[n + p], dict.hands_score?.[n + p], NUM_HAND),
      ],
      face: points(dict.faces?.[p], dict.faces_score?.[p], NUM_FACE),
    });
  }
  return { persons };
}

// The keypoint data model shared by extraction, alignment, rendering and training.
// Coordinates are normalised by the frame's width and height (x in [0,1] left to right, y top to bottom),
// as DWPose writes them; `PoseSequence.size` gives the pixel aspect.

/** [x, y, score]; a missing point has score 0. */
export type Keypoint = [number, number, number];

/** OpenPose-18 body order (DWPose's remap of COCO-WholeBody with the neck inserted). */
export const BODY_NAMES = [
  'nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder', 'left_elbow', 'left_wrist',
  'right_hip', 'right_knee', 'right_ankle', 'left_hip', 'left_knee', 'left_ankle',
  'right_eye', 'left_eye', 'right_ear', 'left_ear',
] as const;
export const NUM_BODY = 18;
export const NUM_HAND = 21;
export const NUM_FACE = 68;

/** Below this score a keypoint counts as missing (DWPose's body threshold). */
export const VISIBLE_THRESHOLD = 0.3;

export interface PersonPose {
  body: Keypoint[];               // NUM_BODY
  hands: [Keypoint[], Keypoint[]]; // [left, right] in DWPose's order (COCO-WholeBody 91-111, 112-132), NUM_HAND each
  face: Keypoint[];               // NUM_FACE
}

export interface PoseFrame {
  persons: PersonPose[];
}

export interface PoseSequence {
  /** Pixel size [width, height] of the frames the coordinates were normalised by. */
  size: [number, number];
  fps?: number;
  frames: PoseFrame[];
}

export function isVisible(k: Keypoint, threshold = VISIBLE_THRESHOLD): boolean {
  return k[2] >= threshold;
}

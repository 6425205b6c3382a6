// What every pose detector offers: one RGB image in, one PoseFrame (normalised keypoints, all persons) out.
// Implementations: DWPose on onnxruntime (src/pose/dwpose/) and the embedded default (src/pose/embedded/).

import type { Image } from '../io/image.ts';
import type { PoseFrame } from './keypoints.ts';

export interface PoseDetector {
  /** 'dwpose' or 'default'. */
  readonly name: string;
  /** Detects every person in an RGB(A) image; coordinates are normalised by its width and height. */
  detect(image: Image): Promise<PoseFrame>;
  /** Frees the models. */
  dispose(): Promise<void>;
}

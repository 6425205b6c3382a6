// DWPose (YOLOX-L person boxes + RTMPose whole-body keypoints) on onnxruntime-node, as StableAnimator's
// DWPose/wholebody.py: 133 COCO-WholeBody points per person, the neck inserted as the mean of the shoulders,
// remapped to our OpenPose-18 + hands + face model (src/pose/convert.ts).

import { join } from 'node:path';
import type { Image } from '../../io/image.ts';
import { personFromWholeBody, NUM_WHOLEBODY } from '../convert.ts';
import type { PoseDetector } from '../detector.ts';
import type { PoseFrame } from '../keypoints.ts';
import { OnnxSession } from './onnx-session.ts';
import { estimatePoses, type WholeBodyKeypoints } from './rtmpose.ts';
import { detectPersons, type Box } from './yolox.ts';

export const DWPOSE_DETECTOR_FILE = 'yolox_l.onnx';
export const DWPOSE_POSE_FILE = 'dw-ll_ucoco_384.onnx';

export interface DwposeOptions {
  /** Folder holding yolox_l.onnx and dw-ll_ucoco_384.onnx (the reference's checkpoints/DWPose). */
  dir?: string;
  /** Explicit model paths (override `dir`). */
  detectorPath?: string;
  posePath?: string;
  /** onnxruntime intra-op threads. */
  threads?: number;
}

export interface WholeBodyResult {
  /** Person boxes from YOLOX, image pixels [x1, y1, x2, y2]. */
  boxes: Box[];
  /** One entry per box (or one for the whole image when no box was found), COCO-WholeBody order. */
  persons: WholeBodyKeypoints[];
}

export class DwposeDetector implements PoseDetector {
  readonly name = 'dwpose';

  private constructor(private readonly det: OnnxSession, private readonly pose: OnnxSession) {}

  static async load(options: DwposeOptions): Promise<DwposeDetector> {
    const detectorPath = options.detectorPath ?? (options.dir ? join(options.dir, DWPOSE_DETECTOR_FILE) : undefined);
    const posePath = options.posePath ?? (options.dir ? join(options.dir, DWPOSE_POSE_FILE) : undefined);
    if (!detectorPath || !posePath) {
      throw new Error(`DWPose needs its two ONNX models: give a folder with ${DWPOSE_DETECTOR_FILE} and ${DWPOSE_POSE_FILE} (--dwpose-dir)`);
    }
    const sessionOptions = { intraOpThreads: options.threads };
    // one after the other, so a missing file is always reported in the same order (detector first)
    const det = await OnnxSession.open(detectorPath, sessionOptions);
    const pose = await OnnxSession.open(posePath, sessionOptions);
    return new DwposeDetector(det, pose);
  }

  /** Raw whole-body output in image pixels. */
  async detectWholeBody(image: Image): Promise<WholeBodyResult> {
    const boxes = await detectPersons(this.det, image);
    const persons = await estimatePoses(this.pose, image, boxes);
    return { boxes, persons };
  }

  async detect(image: Image): Promise<PoseFrame> {
    const { persons } = await this.detectWholeBody(image);
    const size: [number, number] = [image.width, image.height];
    return {
      persons: persons.map((p) => {
        if (p.scores.length < NUM_WHOLEBODY) throw new Error(`DWPose pose model gave ${p.scores.length} keypoints, expected ${NUM_WHOLEBODY}`);
        return personFromWholeBody(p, size);
      }),
    };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.det.dispose(), this.pose.dispose()]);
  }
}

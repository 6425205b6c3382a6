// The embedded default pose detector: works offline from weights shipped in an npm package, on our engine.
//   1. CenterNet person boxes (every frame for stills; for video every `redetectEvery` frames, boxes in
//      between tracked from the previous frame's keypoints).
//   2. MoveNet-Lightning per person box -> 17 COCO body points -> OpenPose-18 (neck from the shoulders).
//   3. Face: a region from the head keypoints -> FaceMesh (468 points, refined once) -> 68 iBUG points.
//   4. Hands: a region from each forearm -> MediaPipe hand landmarks (21 points), refined once.

import type { Image } from '../../io/image.ts';
import { openposeBodyFromCoco } from '../convert.ts';
import type { PoseDetector } from '../detector.ts';
import { NUM_FACE, NUM_HAND, type Keypoint, type PersonPose, type PoseFrame } from '../keypoints.ts';
import type { Box } from '../dwpose/yolox.ts';
import { detectPersonBoxes, estimateBody, keypointBox, type Coco17 } from './body.ts';
import { faceFromBody } from './face.ts';
import { handsFromBody } from './hands.ts';

export interface EmbeddedPoseOptions {
  /** Detect faces (68 points). Default true. */
  face?: boolean;
  /** Detect hands (2 x 21 points). Default true. */
  hands?: boolean;
  /**
   * Treat successive detect() calls as frames of one video: run the person detector every this many frames
   * and track boxes from keypoints in between. Default 1 (detect every call, no state).
   */
  redetectEvery?: number;
  /** Maximum persons per frame. Default 10. */
  maxPersons?: number;
  /** A person is kept when the mean of its 17 body scores reaches this. Default 0.2. */
  minPersonScore?: number;
}

function missing(n: number): Keypoint[] {
  return Array.from({ length: n }, (): Keypoint => [0, 0, 0]);
}

function meanScore(kp: Coco17): number {
  return kp.scores.reduce((a, b) => a + b, 0) / kp.scores.length;
}

function iou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** A keypoint box grown to roughly the person box the detector would give. */
function trackedBox(kp: Coco17, image: Image): Box | undefined {
  const b = keypointBox(kp);
  if (!b) return undefined;
  const w = b[2] - b[0];
  const h = b[3] - b[1];
  const pad = 0.15 * Math.max(w, h);
  return [Math.max(0, b[0] - pad), Math.max(0, b[1] - pad), Math.min(image.width, b[2] + pad), Math.min(image.height, b[3] + pad)];
}

export class EmbeddedPoseDetector implements PoseDetector {
  readonly name = 'default';
  private frame = 0;
  private tracked: Box[] = [];

  constructor(private readonly options: EmbeddedPoseOptions = {}) {}

  /** Forgets tracked persons (start of a new video). */
  reset(): void {
    this.frame = 0;
    this.tracked = [];
  }

  private async personBoxes(image: Image): Promise<Box[]> {
    const every = this.options.redetectEvery ?? 1;
    const redetect = every <= 1 || this.frame % every === 0 || this.tracked.length === 0;
    this.frame++;
    if (!redetect) return this.tracked;
    return (await detectPersonBoxes(image)).map((d) => d.box);
  }

  /** The COCO-17 keypoints of every person, in image pixels. */
  async detectBodies(image: Image): Promise<Coco17[]> {
    const boxes = await this.personBoxes(image);
    const minScore = this.options.minPersonScore ?? 0.2;
    const bodies: { kp: Coco17; box: Box; score: number }[] = [];
    for (const box of boxes.slice(0, this.options.maxPersons ?? 10)) {
      const kp = await estimateBody(image, box);
      const score = meanScore(kp);
      if (score < minScore) continue;
      const kb = trackedBox(kp, image) ?? box;
      // Two boxes on one person give the same skeleton twice: keep the better one.
      const dup = bodies.findIndex((b) => iou(b.box, kb) > 0.6);
      if (dup >= 0) {
        if (bodies[dup].score < score) bodies[dup] = { kp, box: kb, score };
        continue;
      }
      bodies.push({ kp, box: kb, score });
    }
    if ((this.options.redetectEvery ?? 1) > 1) this.tracked = bodies.map((b) => b.box);
    return bodies.map((b) => b.kp);
  }

  async detect(image: Image): Promise<PoseFrame> {
    const size: [number, number] = [image.width, image.height];
    const bodies = await this.detectBodies(image);
    const persons: PersonPose[] = [];
    for (const kp of bodies) {
      const face = this.options.face === false ? undefined : await faceFromBody(image, kp);
      const hands = this.options.hands === false ? undefined : await handsFromBody(image, kp);
      const norm = (p: [number, number, number]): Keypoint => [p[0] / size[0], p[1] / size[1], p[2]];
      persons.push({
        body: openposeBodyFromCoco(kp, size),
        face: face ? face.points68.map(norm) : missing(NUM_FACE),
        hands: [
          hands?.[0] ? hands[0].map(norm) : missing(NUM_HAND),
          hands?.[1] ? hands[1].map(norm) : missing(NUM_HAND),
        ],
      });
    }
    return { persons };
  }

  async dispose(): Promise<void> {
    // The graphs are shared per process (see models.ts); nothing per instance.
  }
}

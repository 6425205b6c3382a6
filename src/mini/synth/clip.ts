// One synthetic clip: an identity performing a motion window in front of a static background, seen by a fixed
// camera. Returns the frames, the keypoints of the figure as drawn (the identity's proportions, the drawn
// head's nose/eyes/ears and 68 face landmarks) and the face box per frame.

import type { Image } from '../../io/image.ts';
import type { Box } from '../../pose/dwpose/yolox.ts';
import { NUM_HAND, VISIBLE_THRESHOLD } from '../../pose/keypoints.ts';
import type { Keypoint, PoseSequence } from '../../pose/keypoints.ts';
import type { Rng } from '../../util/rng.ts';
import { drawBackground } from './background.ts';
import type { BackgroundKind } from './background.ts';
import { applyProportions, clipScale, drawFigure, headRadius } from './figure.ts';
import { estimateHeadPose, faceBox, faceLandmarks, headKeypoints, smoothHeadPoses } from './head.ts';
import type { HeadPose } from './head.ts';
import type { Identity } from './identity.ts';
import { Canvas } from './shapes.ts';

export interface RenderedClip {
  frames: Image[];
  /** Normalised keypoints (our keypoint model), one person per frame. */
  poses: PoseSequence;
  /** Face box per frame in pixels; undefined when the face is turned away. */
  boxes: (Box | undefined)[];
  heads: HeadPose[];
  background: BackgroundKind;
}

const noHand = (): Keypoint[] => Array.from({ length: NUM_HAND }, (): Keypoint => [0, 0, 0]);

/** Renders a clip of `size` x `size` frames from body keypoints in pixels (see motion.ts cutClip). */
export function renderClip(id: Identity, body: readonly Keypoint[][], size: number, rng: Rng, fps?: number): RenderedClip {
  const skeletons = body.map((b) => applyProportions(b, id));
  const scale = clipScale(skeletons);
  const radius = headRadius(scale, id);
  // A frame without a neck (the person left the video, or DWPose lost them) shows the background only; its
  // head pose is borrowed from the nearest frame with one, so smoothing has something to hold.
  const present = skeletons.map((b) => b[1]![2] >= VISIBLE_THRESHOLD);
  const valid = present.flatMap((p, f) => (p ? [f] : []));
  if (valid.length === 0) throw new Error('synth renderClip: no frame of the clip shows a person (no neck keypoint)');
  const nearest = (f: number) => valid.reduce((a, b) => (Math.abs(b - f) < Math.abs(a - f) ? b : a));
  const heads = smoothHeadPoses(skeletons.map((_, f) => estimateHeadPose(skeletons[nearest(f)]!, radius)));
  const background = new Canvas(size, size);
  const kind = drawBackground(background, rng);

  const frames: Image[] = [];
  const boxes: (Box | undefined)[] = [];
  const poses: PoseSequence = { size: [size, size], ...(fps ? { fps } : {}), frames: [] };
  skeletons.forEach((points, f) => {
    const head = heads[f]!;
    const canvas = new Canvas(size, size);
    canvas.data.set(background.data);
    if (!present[f]) {
      frames.push(canvas.toImage());
      poses.frames.push({ persons: [] });
      boxes.push(undefined);
      return;
    }
    drawFigure(canvas, points, head, id, scale);
    frames.push(canvas.toImage());
    // The written pose is the drawn figure: the head's own nose, eyes and ears replace the motion's.
    const hk = headKeypoints(head, id.face);
    const drawn = points.map((k): Keypoint => [k[0], k[1], k[2]]);
    [drawn[0], drawn[14], drawn[15], drawn[16], drawn[17]] = [hk.nose, hk.eyes[0], hk.eyes[1], hk.ears[0], hk.ears[1]];
    const norm = (k: Keypoint): Keypoint => (k[2] > 0 ? [k[0] / size, k[1] / size, Math.min(1, k[2])] : [0, 0, 0]);
    poses.frames.push({ persons: [{ body: drawn.map(norm), hands: [noHand(), noHand()], face: faceLandmarks(head, id.face).map(norm) }] });
    boxes.push(faceBox(head, id.face));
  });
  return { frames, poses, boxes, heads, background: kind };
}

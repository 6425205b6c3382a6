// Hand keypoints with MediaPipe's hand-landmark model (21 points, the same order as COCO-WholeBody's hands:
// wrist, then thumb, index, middle, ring, little finger from base to tip). The crop comes from the forearm
// (elbow -> wrist) of the body keypoints, rotated so the fingers point up, and is refined once from the
// landmarks themselves.

import type { Image } from '../../io/image.ts';
import type { Coco17 } from './body.ts';
import { runLandmarkModel } from './models.ts';

export const HAND_INPUT = 224;

export interface HandRegion {
  center: [number, number];
  side: number;
  /** Rotation of the crop (radians); the fingers point along R(angle)·(0,-1). */
  angle: number;
}

export interface HandResult {
  /** 21 points [x, y] in image pixels. */
  points: [number, number][];
  score: number;
}

export async function runHandLandmarks(image: Image, region: HandRegion): Promise<HandResult> {
  const { points, score } = await runLandmarkModel(image, region, 'handlandmark-lite', HAND_INPUT, ['Identity:0', 'Identity_1:0'], 21);
  // Identity_1 is the hand-presence probability (the graph ends in a sigmoid).
  return { points, score: Math.min(Math.max(score, 0), 1) };
}

/** The crop for the hand at the end of the forearm elbow -> wrist. */
export function regionFromForearm(elbow: [number, number], wrist: [number, number]): HandRegion | undefined {
  const dx = wrist[0] - elbow[0];
  const dy = wrist[1] - elbow[1];
  const len = Math.hypot(dx, dy);
  if (!(len > 4)) return undefined;
  return { center: [wrist[0] + 0.35 * dx, wrist[1] + 0.35 * dy], side: 1.3 * len, angle: Math.atan2(dy, dx) + Math.PI / 2 };
}

/** The next crop from landmarks: their box in the frame where wrist -> middle-finger base points up, x1.8. */
export function regionFromLandmarks(points: [number, number][], scale = 1.8): HandRegion {
  const [wx, wy] = points[0];
  const [mx, my] = points[9];
  const angle = Math.atan2(my - wy, mx - wx) + Math.PI / 2;
  const cos = Math.cos(-angle);
  const sin = Math.sin(-angle);
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const [x, y] of points) {
    const u = cos * x - sin * y;
    const v = sin * x + cos * y;
    x1 = Math.min(x1, u); x2 = Math.max(x2, u);
    y1 = Math.min(y1, v); y2 = Math.max(y2, v);
  }
  const cu = (x1 + x2) / 2;
  const cv = (y1 + y2) / 2;
  return {
    center: [Math.cos(angle) * cu - Math.sin(angle) * cv, Math.sin(angle) * cu + Math.cos(angle) * cv],
    side: Math.max(x2 - x1, y2 - y1) * scale,
    angle,
  };
}

/** Landmarks of one hand from a first region, refined once; undefined when no hand is found. */
export async function refineHand(image: Image, region: HandRegion, minScore = 0.5): Promise<HandResult | undefined> {
  let result = await runHandLandmarks(image, region);
  if (result.score < minScore) return undefined;
  const second = await runHandLandmarks(image, regionFromLandmarks(result.points));
  if (second.score >= result.score * 0.9) result = second;
  return result;
}

/** [left, right] hands (the subject's) from a COCO-17 body: points [x, y, score] in image pixels. */
export async function handsFromBody(image: Image, kp: Coco17, minScore = 0.3): Promise<[([number, number, number][] | undefined), ([number, number, number][] | undefined)]> {
  const at = (k: number) => (kp.scores[k] >= minScore ? [kp.xy[2 * k], kp.xy[2 * k + 1]] as [number, number] : undefined);
  const out: ([number, number, number][] | undefined)[] = [];
  for (const [elbowK, wristK] of [[7, 9], [8, 10]]) {
    const elbow = at(elbowK);
    const wrist = at(wristK);
    const region = elbow && wrist ? regionFromForearm(elbow, wrist) : undefined;
    const hand = region ? await refineHand(image, region) : undefined;
    out.push(hand ? hand.points.map(([x, y]) => [x, y, hand.score]) : undefined);
  }
  return [out[0], out[1]];
}

// Pose images exactly as StableAnimator draws them (DWPose `draw_pose`): a canvas whose short side is 2160 px,
// limbs as filled ellipses dimmed by their scores, the limb layer times 0.6, joints, hands and face points on
// top, then an INTER_LINEAR resize to the target size. The PNG's R,G,B equal the OpenPose colour list
// (limb 0, neck to right shoulder, is red).

import { join } from 'node:path';
import { writeImage, createImage, type Image } from '../io/image.ts';
import { encodeVideo } from '../io/video.ts';
import { writeFrameFolder, type FrameProgress } from '../io/frame-folder.ts';
import { NUM_BODY, VISIBLE_THRESHOLD, type Keypoint, type PoseFrame, type PoseSequence } from './keypoints.ts';
import { drawLine, ellipse2Poly, fillCircle, fillConvexPoly, roundHalfEven, type Rgb } from './raster.ts';
import { resizeLinearCv } from './resize-linear.ts';

/** Body limbs as OpenPose-18 index pairs (DWPose's first 17 `limbSeq` entries, 0-based). */
export const BODY_LIMBS: readonly (readonly [number, number])[] = [
  [1, 2], [1, 5], [2, 3], [3, 4], [5, 6], [6, 7], [1, 8], [8, 9], [9, 10],
  [1, 11], [11, 12], [12, 13], [1, 0], [0, 14], [14, 16], [0, 15], [15, 17],
];

/** The OpenPose colour of limb i and joint i. */
export const BODY_COLORS: readonly Rgb[] = [
  [255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0], [0, 255, 0],
  [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255], [0, 0, 255], [85, 0, 255],
  [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85],
];

/** Hand bones: wrist to each finger's base, then along the finger. */
export const HAND_EDGES: readonly (readonly [number, number])[] = [
  [0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [0, 9], [9, 10],
  [10, 11], [11, 12], [0, 13], [13, 14], [14, 15], [15, 16], [0, 17], [17, 18], [18, 19], [19, 20],
];

/** The reference draws on a canvas with this short side, then resizes. */
export const POSE_CANVAS_SHORT_SIDE = 2160;

const STICK_HALF_WIDTH = 4;
const JOINT_RADIUS = 4;
const HAND_LINE_THICKNESS = 2;
const HAND_POINT_RADIUS = 4;
const FACE_POINT_RADIUS = 3;
const LIMB_LAYER_GAIN = 0.6;

/** matplotlib's hsv_to_rgb for s = v = 1, with its floating-point steps. */
function hue(h: number): [number, number, number] {
  const i = Math.trunc(h * 6);
  const f = h * 6 - i;
  const q = 1 - f;
  const t = 1 - (1 - f);
  switch (i % 6) {
    case 0: return [1, t, 0];
    case 1: return [q, 1, 0];
    case 2: return [0, 1, t];
    case 3: return [0, q, 1];
    case 4: return [t, 0, 1];
    default: return [1, 0, q];
  }
}

/** Pixel position as the reference computes it: int(coordinate * canvas size), truncated toward zero. */
function pixel(k: Keypoint, width: number, height: number): [number, number] {
  return [Math.trunc(k[0] * width), Math.trunc(k[1] * height)];
}

function mapColor(color: Rgb, f: (channel: number) => number): Rgb {
  return [f(color[0]), f(color[1]), f(color[2])];
}

function finite(k: Keypoint): boolean {
  return Number.isFinite(k[0]) && Number.isFinite(k[1]) && Number.isFinite(k[2]);
}

function drawLimbs(canvas: Image, frame: PoseFrame): void {
  const { width, height } = canvas;
  // Limb by limb, person by person: overlaps stack in the reference's order.
  BODY_LIMBS.forEach(([a, b], i) => {
    for (const person of frame.persons) {
      const ka = person.body[a];
      const kb = person.body[b];
      if (!ka || !kb || !finite(ka) || !finite(kb) || ka[2] < VISIBLE_THRESHOLD || kb[2] < VISIBLE_THRESHOLD) continue;
      const xs = [ka[0] * width, kb[0] * width];
      const ys = [ka[1] * height, kb[1] * height];
      const length = Math.sqrt((ys[0] - ys[1]) ** 2 + (xs[0] - xs[1]) ** 2);
      const angle = (Math.atan2(ys[0] - ys[1], xs[0] - xs[1]) * 180) / Math.PI;
      const center: [number, number] = [Math.trunc((xs[0] + xs[1]) / 2), Math.trunc((ys[0] + ys[1]) / 2)];
      const polygon = ellipse2Poly(center, [Math.trunc(length / 2), STICK_HALF_WIDTH], Math.trunc(angle));
      const alpha = ka[2] * kb[2];
      const color = mapColor(BODY_COLORS[i], (c) => dimmed(Math.trunc(c * alpha)));
      fillConvexPoly(canvas, polygon, color);
    }
  });
}

/**
 * The reference multiplies the whole limb canvas by 0.6 and casts to uint8 (truncation). Fills overwrite without
 * blending and the background is 0, so dimming each limb's colour gives the same pixels without a pass over
 * the 2160p canvas.
 */
function dimmed(value: number): number {
  return Math.trunc(value * LIMB_LAYER_GAIN);
}

function drawJoints(canvas: Image, frame: PoseFrame): void {
  for (let i = 0; i < NUM_BODY; i++) {
    for (const person of frame.persons) {
      const k = person.body[i];
      // DWPose lists a joint in `subset` (and draws it) when its score is strictly above the threshold.
      if (!k || !finite(k) || !(k[2] > VISIBLE_THRESHOLD)) continue;
      const [x, y] = pixel(k, canvas.width, canvas.height);
      const color = mapColor(BODY_COLORS[i], (c) => Math.trunc(c * k[2]));
      fillCircle(canvas, x, y, JOINT_RADIUS, color);
    }
  }
}

// DWPose's eps test on integer pixels: points on the first row/column or beyond the top/left are not drawn.
const onCanvasSide = (x: number, y: number) => x > 0.01 && y > 0.01;

function drawHand(canvas: Image, hand: Keypoint[]): void {
  const { width, height } = canvas;
  HAND_EDGES.forEach(([a, b], i) => {
    const ka = hand[a];
    const kb = hand[b];
    if (!ka || !kb || !finite(ka) || !finite(kb)) return;
    const pa = pixel(ka, width, height);
    const pb = pixel(kb, width, height);
    if (!onCanvasSide(...pa) || !onCanvasSide(...pb)) return;
    const strength = Math.trunc(ka[2] * kb[2] * 255);
    const color = mapColor(hue(i / HAND_EDGES.length), (c) => roundHalfEven(c * strength));
    drawLine(canvas, pa, pb, HAND_LINE_THICKNESS, color);
  });
  for (const k of hand) {
    if (!finite(k)) continue;
    const [x, y] = pixel(k, width, height);
    if (onCanvasSide(x, y)) fillCircle(canvas, x, y, HAND_POINT_RADIUS, [0, 0, Math.trunc(k[2] * 255)]);
  }
}

function drawFace(canvas: Image, face: Keypoint[]): void {
  for (const k of face) {
    if (!finite(k)) continue;
    const [x, y] = pixel(k, canvas.width, canvas.height);
    const grey = Math.trunc(k[2] * 255);
    if (onCanvasSide(x, y)) fillCircle(canvas, x, y, FACE_POINT_RADIUS, [grey, grey, grey]);
  }
}

/**
 * How skeletons are drawn. 'reference': as StableAnimator (a 2160 px canvas, resized), which released
 * checkpoints were trained on; at small sizes its limbs shrink below a pixel (0.5 px at 128 px: dotted
 * lines). 'legible': the same drawing on a canvas of twice the output size, so limbs are 4 px wide and joints
 * 4 px across at every size, without gaps; the miniature is trained and run on it (its miniature.json says so).
 */
export type SkeletonStyle = 'reference' | 'legible';
export const SKELETON_STYLES: readonly SkeletonStyle[] = ['reference', 'legible'];

export interface RenderPoseOptions {
  /** Default 'reference'. */
  style?: SkeletonStyle;
  /** Short side of the drawing canvas before the resize (overrides the style's). */
  canvasShortSide?: number;
}

/** The drawing canvas's short side for an output short side `sz`. */
export function skeletonCanvasSide(sz: number, options: RenderPoseOptions = {}): number {
  if (options.canvasShortSide !== undefined) return options.canvasShortSide;
  return options.style === 'legible' ? 2 * sz : POSE_CANVAS_SHORT_SIDE;
}

/** Draws one frame's persons as an RGB image of `width` x `height`, identical to the reference's PNG. */
export function renderPose(frame: PoseFrame, width: number, height: number, options: RenderPoseOptions = {}): Image {
  const sz = Math.min(width, height);
  const shortSide = skeletonCanvasSide(sz, options);
  const sr = sz !== shortSide ? shortSide / sz : 1;
  const canvas = createImage(Math.trunc(width * sr), Math.trunc(height * sr));
  drawLimbs(canvas, frame);
  drawJoints(canvas, frame);
  // DWPose's dict lists every person's left hand, then every right hand.
  for (const side of [0, 1] as const) for (const person of frame.persons) drawHand(canvas, person.hands[side]);
  for (const person of frame.persons) drawFace(canvas, person.face);
  return resizeLinearCv(canvas, width, height);
}

/** Renders a frame and writes it as a PNG (atomically). */
export async function writePoseImage(path: string, frame: PoseFrame, width: number, height: number, options: RenderPoseOptions = {}): Promise<void> {
  await writeImage(path, renderPose(frame, width, height, options));
}

export interface RenderSequenceOptions extends RenderPoseOptions {
  /** Output size; default the sequence's `size`. */
  width?: number;
  height?: number;
  onProgress?: (progress: FrameProgress) => void;
}

function outputSize(seq: PoseSequence, options: RenderSequenceOptions): [number, number] {
  return [options.width ?? seq.size[0], options.height ?? seq.size[1]];
}

/** Writes `frame_0.png`, `frame_1.png`, ... into `dir`, the layout StableAnimator reads poses from. */
export async function renderPoseSequenceToFolder(seq: PoseSequence, dir: string, options: RenderSequenceOptions = {}): Promise<string[]> {
  const [width, height] = outputSize(seq, options);
  return writeFrameFolder(dir, seq.frames.length, (i) => renderPose(seq.frames[i]!, width, height, options), options.onProgress);
}

/** Renders the sequence into an mp4 or gif (atomically) at `fps`, default the sequence's fps or 30. */
export async function renderPoseSequenceToVideo(
  seq: PoseSequence,
  path: string,
  options: RenderSequenceOptions & { fps?: number } = {},
): Promise<void> {
  const [width, height] = outputSize(seq, options);
  function* frames() {
    for (const frame of seq.frames) yield renderPose(frame, width, height, options);
  }
  await encodeVideo(path, frames(), { fps: options.fps ?? seq.fps ?? 30, totalFrames: seq.frames.length, onProgress: options.onProgress });
}

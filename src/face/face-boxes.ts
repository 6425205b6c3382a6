// Face boxes for the HJB face loss, in pixels of the OUTPUT frames (the reference applies its mask boxes to the
// generated frames without rescaling, so they must be at the output size; we rescale given masks instead).
//   - from keypoints: the face landmarks of the (aligned) driving poses, widened and raised to take in the
//     forehead (68-point faces stop at the eyebrows), or the head's body points when the face is missing;
//   - from masks: the bounding box of the white pixels of one mask image per frame (face_mask_extraction.py).
// A box is integer and half-open: [x1, y1, x2, y2) with 0 <= x1 < x2 <= width.
import type { Image } from '../io/image.ts';
import { listFrameFiles } from '../io/frame-folder.ts';
import { readImage } from '../io/image.ts';
import type { Keypoint, PersonPose, PoseFrame } from '../pose/keypoints.ts';
import { VISIBLE_THRESHOLD } from '../pose/keypoints.ts';

export type PixelBox = [number, number, number, number];

export interface FaceBoxOptions {
  /** Landmark score threshold (default 0.3). */
  threshold?: number;
  /** Added on the left and right, as a fraction of the landmark box width (default 0.1). */
  sideMargin?: number;
  /** Added above, as a fraction of the landmark box height (forehead; default 0.4). */
  topMargin?: number;
  /** Added below, as a fraction of the landmark box height (default 0.05). */
  bottomMargin?: number;
  /** Faces with fewer visible landmarks fall back to the head's body points (default 5). */
  minLandmarks?: number;
}

/** Rounds a box outwards to whole pixels and clips it to the frame; undefined when nothing is left. */
export function clipBox(box: readonly number[], width: number, height: number): PixelBox | undefined {
  // a hair of tolerance, so that 62.000000001 stays 62
  const x1 = Math.max(0, Math.floor(box[0] + 1e-6));
  const y1 = Math.max(0, Math.floor(box[1] + 1e-6));
  const x2 = Math.min(width, Math.ceil(box[2] - 1e-6));
  const y2 = Math.min(height, Math.ceil(box[3] - 1e-6));
  return x2 - x1 >= 2 && y2 - y1 >= 2 ? [x1, y1, x2, y2] : undefined;
}

/** Scales a box from a frame of fromSize to one of toSize ([width, height] each). */
export function scaleBox(box: PixelBox, fromSize: readonly [number, number], toSize: readonly [number, number]): PixelBox | undefined {
  const sx = toSize[0] / fromSize[0];
  const sy = toSize[1] / fromSize[1];
  return clipBox([box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy], toSize[0], toSize[1]);
}

function visible(points: readonly Keypoint[], threshold: number): [number, number][] {
  return points.filter((k) => k[2] >= threshold && Number.isFinite(k[0]) && Number.isFinite(k[1])).map((k) => [k[0], k[1]]);
}

/** Head points of the OpenPose-18 body: nose, eyes, ears. */
const HEAD_POINTS = [0, 14, 15, 16, 17];

/** The face box of one person (keypoints normalised to the frame), in pixels of a width x height frame. */
export function faceBoxFromPerson(person: PersonPose, width: number, height: number, opts: FaceBoxOptions = {}): PixelBox | undefined {
  const threshold = opts.threshold ?? VISIBLE_THRESHOLD;
  const face = visible(person.face, threshold).map(([x, y]) => [x * width, y * height]);
  if (face.length >= (opts.minLandmarks ?? 5)) {
    const xs = face.map((p) => p[0]);
    const ys = face.map((p) => p[1]);
    const [x1, x2, y1, y2] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const w = x2 - x1;
    const h = y2 - y1;
    const side = opts.sideMargin ?? 0.1;
    return clipBox([x1 - side * w, y1 - (opts.topMargin ?? 0.4) * h, x2 + side * w, y2 + (opts.bottomMargin ?? 0.05) * h], width, height);
  }
  const head = visible(HEAD_POINTS.map((i) => person.body[i]).filter((k) => k !== undefined), threshold).map(([x, y]) => [x * width, y * height]);
  if (head.length < 2) return undefined;
  const xs = head.map((p) => p[0]);
  const ys = head.map((p) => p[1]);
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
  const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
  // the eye/ear spread is about half a face width
  const half = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) * 0.9;
  if (!(half > 0)) return undefined;
  return clipBox([cx - half, cy - half * 1.1, cx + half, cy + half * 0.9], width, height);
}

function area(b: PixelBox): number {
  return (b[2] - b[0]) * (b[3] - b[1]);
}

/** Per frame, the largest face box among its persons (undefined where there is none). */
export function faceBoxesFromPoses(frames: readonly PoseFrame[], width: number, height: number, opts: FaceBoxOptions = {}): (PixelBox | undefined)[] {
  return frames.map((frame) => {
    let best: PixelBox | undefined;
    for (const person of frame.persons) {
      const box = faceBoxFromPerson(person, width, height, opts);
      if (box && (!best || area(box) > area(best))) best = box;
    }
    return best;
  });
}

/** The bounding box of the mask's white pixels (any channel >= 128), or undefined for an empty mask. */
export function maskBox(mask: Image): PixelBox | undefined {
  let [x1, y1, x2, y2] = [Infinity, Infinity, -1, -1];
  const { width, height, channels, data } = mask;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[(y * width + x) * channels] < 128) continue;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
    }
  }
  return x2 < 0 ? undefined : clipBox([x1, y1, x2 + 1, y2 + 1], width, height);
}

/**
 * Boxes from a folder of per-frame masks (frame_0.png, ... in natural order), scaled to the output size
 * when the masks have another size.
 */
export async function faceBoxesFromMaskFolder(dir: string, width: number, height: number): Promise<(PixelBox | undefined)[]> {
  const files = await listFrameFiles(dir);
  const boxes: (PixelBox | undefined)[] = [];
  for (const file of files) {
    const mask = await readImage(file, { channels: 3 });
    const box = maskBox(mask);
    boxes.push(box && scaleBox(box, [mask.width, mask.height], [width, height]));
  }
  return boxes;
}

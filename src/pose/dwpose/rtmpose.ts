// DWPose's whole-body keypoint model, RTMPose (`dw-ll_ucoco_384.onnx`, input 288x384), pre- and
// post-processing as the reference's onnxpose.py: each person box padded by 1.25, its aspect fixed to the
// input's, an affine warp (cv2.warpAffine INTER_LINEAR, border 0), mean/std normalisation, then SimCC
// decoding (argmax / 2, score = min of the two maxima, location -1 where the score is <= 0) and
// back-projection to image pixels. With no person box the whole image is used.

import type { Image } from '../../io/image.ts';
import { warpAffine, type Affine } from '../warp.ts';
import type { OnnxSession } from './onnx-session.ts';
import type { Box } from './yolox.ts';

export const RTMPOSE_INPUT: [number, number] = [288, 384]; // (w, h)
export const BBOX_PADDING = 1.25;
export const SIMCC_SPLIT_RATIO = 2;
export const MEAN = [123.675, 116.28, 103.53] as const;
export const STD = [58.395, 57.12, 57.375] as const;

export interface CenterScale {
  center: [number, number];
  /** Box size [w, h] after padding (and, after fixAspectRatio, with the input's aspect). */
  scale: [number, number];
}

export function bboxToCenterScale(box: Box, padding = BBOX_PADDING): CenterScale {
  const [x1, y1, x2, y2] = box;
  return { center: [(x1 + x2) / 2, (y1 + y2) / 2], scale: [(x2 - x1) * padding, (y2 - y1) * padding] };
}

/** Grows the shorter side so that w / h = aspect. */
export function fixAspectRatio(scale: [number, number], aspect: number): [number, number] {
  const [w, h] = scale;
  return w > h * aspect ? [w, w / aspect] : [h * aspect, h];
}

/** The reference's get_warp_matrix with no rotation or shift: box (center, scale) onto output (w, h). */
export function warpMatrix(center: [number, number], scale: [number, number], output: [number, number]): Affine {
  const s = output[0] / scale[0];
  return [s, 0, output[0] / 2 - s * center[0], 0, s, output[1] / 2 - s * center[1]];
}

export interface PoseCrop {
  /** CHW float32, normalised. */
  data: Float32Array;
  center: [number, number];
  /** The aspect-fixed box size used for the warp and the back-projection. */
  scale: [number, number];
}

export function cropPerson(image: Image, box: Box, input: [number, number] = RTMPOSE_INPUT): PoseCrop {
  const cs = bboxToCenterScale(box);
  const scale = fixAspectRatio(cs.scale, input[0] / input[1]);
  const m = warpMatrix(cs.center, scale, input);
  const hwc = warpAffine(image, m, input[0], input[1]);
  const plane = input[0] * input[1];
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) data[c * plane + i] = (hwc[3 * i + c] - MEAN[c]) / STD[c];
  }
  return { data, center: cs.center, scale };
}

export interface SimccResult {
  /** K x 2 locations in input pixels (already divided by the split ratio). */
  locs: Float32Array;
  scores: Float32Array;
}

/** SimCC decoding of one person: simccX is K x Wx, simccY is K x Wy. */
export function decodeSimcc(simccX: Float32Array, simccY: Float32Array, k: number, splitRatio = SIMCC_SPLIT_RATIO): SimccResult {
  const wx = simccX.length / k;
  const wy = simccY.length / k;
  const locs = new Float32Array(2 * k);
  const scores = new Float32Array(k);
  for (let j = 0; j < k; j++) {
    let bx = 0;
    let mx = -Infinity;
    for (let i = 0; i < wx; i++) {
      const v = simccX[j * wx + i];
      if (v > mx) { mx = v; bx = i; }
    }
    let by = 0;
    let my = -Infinity;
    for (let i = 0; i < wy; i++) {
      const v = simccY[j * wy + i];
      if (v > my) { my = v; by = i; }
    }
    const score = Math.min(mx, my);
    scores[j] = score;
    locs[2 * j] = (score <= 0 ? -1 : bx) / splitRatio;
    locs[2 * j + 1] = (score <= 0 ? -1 : by) / splitRatio;
  }
  return { locs, scores };
}

/** Input-pixel locations back to image pixels: loc / input * scale + center - scale / 2. */
export function backProject(locs: Float32Array, crop: { center: [number, number]; scale: [number, number] }, input: [number, number] = RTMPOSE_INPUT): Float64Array {
  const out = new Float64Array(locs.length);
  for (let j = 0; j < locs.length / 2; j++) {
    out[2 * j] = (locs[2 * j] / input[0]) * crop.scale[0] + crop.center[0] - crop.scale[0] / 2;
    out[2 * j + 1] = (locs[2 * j + 1] / input[1]) * crop.scale[1] + crop.center[1] - crop.scale[1] / 2;
  }
  return out;
}

export interface WholeBodyKeypoints {
  /** 2K pixel coordinates. */
  xy: Float64Array;
  scores: Float64Array;
}

/** The model's input size (w, h) from its NCHW input shape, defaulting to 288x384. */
export function inputSizeOf(session: OnnxSession): [number, number] {
  const shape = session.inputs[0]?.shape ?? [];
  const h = shape[2];
  const w = shape[3];
  return h > 0 && w > 0 ? [w, h] : RTMPOSE_INPUT;
}

/** Keypoints of every person box (the whole image when there is none). */
export async function estimatePoses(session: OnnxSession, image: Image, boxes: Box[]): Promise<WholeBodyKeypoints[]> {
  const input = inputSizeOf(session);
  const list: Box[] = boxes.length > 0 ? boxes : [[0, 0, image.width, image.height]];
  const out: WholeBodyKeypoints[] = [];
  for (const box of list) {
    const crop = cropPerson(image, box, input);
    const [simccX, simccY] = await session.runSingle(crop.data, [1, 3, input[1], input[0]]);
    const k = simccX.dims[1];
    const { locs, scores } = decodeSimcc(simccX.data, simccY.data, k);
    out.push({ xy: backProject(locs, crop, input), scores: Float64Array.from(scores) });
  }
  return out;
}

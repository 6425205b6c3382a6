// DWPose's person detector, YOLOX-L (`yolox_l.onnx`), pre- and post-processing exactly as the reference's
// onnxdet.py: a 640x640 letterbox anchored top-left with pad value 114 (cv2.resize INTER_LINEAR, no
// normalisation, CHW float), grid/stride decoding, class-aware NMS (IoU 0.45, score 0.1), then class 0 with
// score > 0.3.

import { toRgb, type Image } from '../../io/image.ts';
import { resizeLinearCv } from '../resize-linear.ts';
import type { OnnxSession } from './onnx-session.ts';

export const YOLOX_INPUT = 640;
export const YOLOX_PAD_VALUE = 114;
export const YOLOX_STRIDES = [8, 16, 32] as const;
export const NMS_IOU = 0.45;
export const SCORE_THRESHOLD = 0.1;
export const PERSON_THRESHOLD = 0.3;

/** [x1, y1, x2, y2] in pixels. */
export type Box = [number, number, number, number];

export interface Letterbox {
  /** CHW float32, 3 x size x size, RGB values 0-255 (the image's channel order is kept). */
  data: Float32Array;
  /** Scale from image to letterbox pixels: min(size / H, size / W). */
  ratio: number;
}

/** Resizes by min(size/H, size/W) into the top-left corner of a size x size canvas of 114. */
export function letterbox(image: Image, size = YOLOX_INPUT): Letterbox {
  const ratio = Math.min(size / image.height, size / image.width);
  const w = Math.trunc(image.width * ratio);
  const h = Math.trunc(image.height * ratio);
  const rgb: Image = toRgb(image);
  const resized = resizeLinearCv(rgb, w, h);
  const plane = size * size;
  const data = new Float32Array(3 * plane).fill(YOLOX_PAD_VALUE);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = y * size + x;
      data[d] = resized.data[s];
      data[plane + d] = resized.data[s + 1];
      data[2 * plane + d] = resized.data[s + 2];
    }
  }
  return { data, ratio };
}

export interface Detection {
  box: Box;
  score: number;
  classId: number;
}

/**
 * Decodes raw YOLOX predictions (N x (5 + classes), rows in grid order of strides 8, 16, 32) in place:
 * centre (raw + grid) * stride, size exp(raw) * stride.
 */
export function decodeGrid(pred: Float32Array, rowLength: number, size = YOLOX_INPUT, strides: readonly number[] = YOLOX_STRIDES): void {
  let row = 0;
  for (const stride of strides) {
    const hs = Math.floor(size / stride);
    const ws = Math.floor(size / stride);
    for (let gy = 0; gy < hs; gy++) {
      for (let gx = 0; gx < ws; gx++, row++) {
        const o = row * rowLength;
        pred[o] = (pred[o] + gx) * stride;
        pred[o + 1] = (pred[o + 1] + gy) * stride;
        pred[o + 2] = Math.exp(pred[o + 2]) * stride;
        pred[o + 3] = Math.exp(pred[o + 3]) * stride;
      }
    }
  }
  if (row * rowLength !== pred.length) {
    throw new Error(`YOLOX output has ${pred.length / rowLength} rows, the ${size}px grid of strides ${strides} has ${row}`);
  }
}

/** Single-class NMS as the reference (areas with the +1 pixel convention); returns kept indices. */
export function nms(boxes: Box[], scores: number[], iouThreshold: number): number[] {
  const area = boxes.map(([x1, y1, x2, y2]) => (x2 - x1 + 1) * (y2 - y1 + 1));
  let order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const keep: number[] = [];
  while (order.length > 0) {
    const i = order[0];
    keep.push(i);
    const rest: number[] = [];
    for (const j of order.slice(1)) {
      const w = Math.max(0, Math.min(boxes[i][2], boxes[j][2]) - Math.max(boxes[i][0], boxes[j][0]) + 1);
      const h = Math.max(0, Math.min(boxes[i][3], boxes[j][3]) - Math.max(boxes[i][1], boxes[j][1]) + 1);
      const inter = w * h;
      const iou = inter / (area[i] + area[j] - inter);
      if (iou <= iouThreshold) rest.push(j);
    }
    order = rest;
  }
  return keep;
}

/** Class-aware NMS over decoded predictions; boxes are mapped back to the image by `ratio`. */
export function postprocess(pred: Float32Array, rowLength: number, ratio: number, options: { iou?: number; score?: number } = {}): Detection[] {
  const iou = options.iou ?? NMS_IOU;
  const scoreThreshold = options.score ?? SCORE_THRESHOLD;
  const rows = pred.length / rowLength;
  const classes = rowLength - 5;
  const boxes: Box[] = [];
  for (let r = 0; r < rows; r++) {
    const o = r * rowLength;
    const [cx, cy, w, h] = [pred[o], pred[o + 1], pred[o + 2], pred[o + 3]];
    boxes.push([(cx - w / 2) / ratio, (cy - h / 2) / ratio, (cx + w / 2) / ratio, (cy + h / 2) / ratio]);
  }
  const out: Detection[] = [];
  for (let c = 0; c < classes; c++) {
    const idx: number[] = [];
    const sc: number[] = [];
    for (let r = 0; r < rows; r++) {
      const s = pred[r * rowLength + 4] * pred[r * rowLength + 5 + c];
      if (s > scoreThreshold) {
        idx.push(r);
        sc.push(s);
      }
    }
    if (idx.length === 0) continue;
    for (const k of nms(idx.map((r) => boxes[r]), sc, iou)) out.push({ box: boxes[idx[k]], score: sc[k], classId: c });
  }
  return out;
}

/** The reference's final filter: class 0 (person) with score > 0.3. */
export function personBoxes(dets: Detection[], threshold = PERSON_THRESHOLD): Box[] {
  return dets.filter((d) => d.classId === 0 && d.score > threshold).map((d) => d.box);
}

/** Runs the detector on an RGB image and returns the person boxes in image pixels. */
export async function detectPersons(session: OnnxSession, image: Image): Promise<Box[]> {
  const { data, ratio } = letterbox(image);
  const [out] = await session.runSingle(data, [1, 3, YOLOX_INPUT, YOLOX_INPUT]);
  const rowLength = out.dims[out.dims.length - 1];
  const pred = Float32Array.from(out.data);
  decodeGrid(pred, rowLength);
  return personBoxes(postprocess(pred, rowLength, ratio));
}

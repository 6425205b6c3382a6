// Bodies, top-down: CenterNet (MobileNetV3, COCO classes) finds person boxes, MoveNet-Lightning gives the 17
// COCO keypoints of each person from a square crop around its box.

import * as torch from '../../torch/index.ts';
import type { Image } from '../../io/image.ts';
import { nms, type Box } from '../dwpose/yolox.ts';
import { applyAffine, invertAffine, type Affine } from '../warp.ts';
import { cropTensor, loadEmbeddedModel, stretchTo } from './models.ts';

export const CENTERNET_INPUT = 512;
export const MOVENET_INPUT = 192;

export interface PersonBox {
  box: Box;
  score: number;
}

export interface PersonBoxOptions {
  /** Minimum CenterNet score (default 0.3). */
  minScore?: number;
  /** NMS IoU threshold (default 0.5). */
  iou?: number;
  /** Ignore boxes smaller than this fraction of the image's shorter side (default 0.05). */
  minSize?: number;
}

/** Person boxes in image pixels, best first. */
export async function detectPersonBoxes(image: Image, options: PersonBoxOptions = {}): Promise<PersonBox[]> {
  const graph = await loadEmbeddedModel('centernet');
  const S = CENTERNET_INPUT;
  const rows = torch.scope(() => {
    const x = cropTensor(image, stretchTo(image, S, S), S, S);
    const [det] = graph.execute({ 'tower_0/images': x }, ['tower_0/detections']);
    return det.data<'f32'>();
  });
  const minScore = options.minScore ?? 0.3;
  const minSide = (options.minSize ?? 0.05) * Math.min(image.width, image.height);
  const boxes: Box[] = [];
  const scores: number[] = [];
  for (let i = 0; i < rows.length / 6; i++) {
    const [x1, y1, x2, y2, score, cls] = rows.subarray(6 * i, 6 * i + 6);
    if (cls !== 0 || !(score >= minScore)) continue;
    const box: Box = [
      Math.max(0, (x1 / S) * image.width), Math.max(0, (y1 / S) * image.height),
      Math.min(image.width, (x2 / S) * image.width), Math.min(image.height, (y2 / S) * image.height),
    ];
    if (box[2] - box[0] < minSide && box[3] - box[1] < minSide) continue;
    boxes.push(box);
    scores.push(score);
  }
  return nms(boxes, scores, options.iou ?? 0.5).map((i) => ({ box: boxes[i], score: scores[i] }));
}

export interface Coco17 {
  /** 34 pixel coordinates (x, y) in COCO-17 order. */
  xy: Float64Array;
  scores: Float64Array;
}

/** The square crop around a box, enlarged by `margin`, mapped onto size x size. */
export function squareCrop(box: Box, size: number, margin = 1.25): Affine {
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2;
  const side = Math.max(box[2] - box[0], box[3] - box[1]) * margin;
  const s = size / side;
  return [s, 0, size / 2 - s * cx, 0, s, size / 2 - s * cy];
}

/** MoveNet-Lightning on the square crop of `box`: 17 COCO keypoints in image pixels. */
export async function estimateBody(image: Image, box: Box, margin = 1.25): Promise<Coco17> {
  const graph = await loadEmbeddedModel('movenet-lightning');
  const S = MOVENET_INPUT;
  const m = squareCrop(box, S, margin);
  const out = torch.scope(() => {
    const x = cropTensor(image, m, S, S).round().to('i32');
    const [y] = graph.execute({ input: x });
    return y.data<'f32'>();
  });
  const inv = invertAffine(m);
  const xy = new Float64Array(34);
  const scores = new Float64Array(17);
  for (let k = 0; k < 17; k++) {
    // Output rows are [y, x, score], normalised to the crop; crop pixel centres sit at (i + 0.5) / S.
    const [px, py] = applyAffine(inv, out[3 * k + 1] * S - 0.5, out[3 * k] * S - 0.5);
    xy[2 * k] = px;
    xy[2 * k + 1] = py;
    scores[k] = out[3 * k + 2];
  }
  return { xy, scores };
}

/** The keypoints' bounding box (score >= minScore), or undefined when fewer than 3 qualify. */
export function keypointBox(kp: Coco17, minScore = 0.3): Box | undefined {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  let n = 0;
  for (let k = 0; k < kp.scores.length; k++) {
    if (kp.scores[k] < minScore) continue;
    n++;
    x1 = Math.min(x1, kp.xy[2 * k]);
    y1 = Math.min(y1, kp.xy[2 * k + 1]);
    x2 = Math.max(x2, kp.xy[2 * k]);
    y2 = Math.max(y2, kp.xy[2 * k + 1]);
  }
  return n >= 3 ? [x1, y1, x2, y2] : undefined;
}

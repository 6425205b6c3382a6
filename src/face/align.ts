// Face crops for recognition: a 5-point similarity onto ArcFace's 112x112 template (insightface's norm_crop),
// or, without landmarks, the box resized to the output (what StableAnimator's HJB step does).

import type { Image } from '../io/image.ts';
import type { Box } from '../pose/dwpose/yolox.ts';
import { warpAffine, type Affine } from '../pose/warp.ts';

/** insightface's arcface_dst: eyes, nose tip, mouth corners in a 112x112 crop (image-left point first). */
export const ARCFACE_TEMPLATE: readonly [number, number][] = [
  [38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041],
];

/**
 * Least-squares similarity (rotation, uniform scale, translation; no reflection) mapping `src` onto `dst`:
 * Umeyama's estimate in 2D, written with complex numbers, z' = a·z + b.
 */
export function estimateSimilarity(src: readonly [number, number][], dst: readonly [number, number][]): Affine {
  const n = src.length;
  if (n < 2 || dst.length !== n) throw new Error(`estimateSimilarity: need matching point lists of at least 2, got ${n} and ${dst.length}`);
  const mean = (p: readonly [number, number][]) => p.reduce((acc, q) => [acc[0] + q[0] / n, acc[1] + q[1] / n], [0, 0]);
  const [sx, sy] = mean(src);
  const [dx, dy] = mean(dst);
  let re = 0;
  let im = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const zx = src[i][0] - sx;
    const zy = src[i][1] - sy;
    const wx = dst[i][0] - dx;
    const wy = dst[i][1] - dy;
    // w · conj(z)
    re += wx * zx + wy * zy;
    im += wy * zx - wx * zy;
    norm += zx * zx + zy * zy;
  }
  if (norm === 0) throw new Error('estimateSimilarity: source points coincide');
  const a = re / norm;
  const b = im / norm;
  return [a, -b, dx - (a * sx - b * sy), b, a, dy - (b * sx + a * sy)];
}

/** The template for an output of `size` px, zoomed out by `zoom` (< 1 keeps more context) around its centre. */
export function templateFor(size: number, zoom = 1): [number, number][] {
  const k = size / 112;
  return ARCFACE_TEMPLATE.map(([x, y]) => [((x - 56) * zoom + 56) * k, ((y - 56) * zoom + 56) * k]);
}

/** Aligned crop (float RGB, HWC, 0-255) of `size` x `size` from five landmarks. */
export function alignFace(image: Image, landmarks: readonly [number, number][], size = 112, zoom = 1): Float32Array {
  return warpAffine(image, estimateSimilarity(landmarks, templateFor(size, zoom)), size, size);
}

/**
 * Square box around a face box, `margin` times its larger side: the crop of face-ID networks trained on
 * boxes rather than landmarks (the miniature's, weights/faceid).
 */
export function squareFaceBox(box: readonly [number, number, number, number], margin = 1.15): [number, number, number, number] {
  const cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2;
  const half = (Math.max(box[2] - box[0], box[3] - box[1]) * margin) / 2;
  return [cx - half, cy - half, cx + half, cy + half];
}

/** The box stretched onto `size` x `size` (no alignment), pixel centres aligned. */
export function cropBox(image: Image, box: Box, size = 112): Float32Array {
  const sx = size / Math.max(box[2] - box[0], 1);
  const sy = size / Math.max(box[3] - box[1], 1);
  const m: Affine = [sx, 0, (0.5 - box[0]) * sx - 0.5, 0, sy, (0.5 - box[1]) * sy - 0.5];
  return warpAffine(image, m, size, size);
}

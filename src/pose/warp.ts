// Affine crops of an image for detectors: OpenCV's warpAffine convention (pixel i has coordinate i, bilinear
// sampling, a constant border), computed in float. Output is float RGB, interleaved (H, W, 3), 0-255.

import type { Image } from '../io/image.ts';

/** Row-major 2x3 affine matrix [a, b, c, d, e, f]: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type Affine = [number, number, number, number, number, number];

export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (det === 0 || !Number.isFinite(det)) throw new Error('invertAffine: singular matrix');
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/**
 * The affine map taking a box of `size` (w, h) centred on `center` and rotated by `angle` radians
 * (counter-clockwise in image coordinates, y down) onto an output of `outW` x `outH`.
 */
export function boxToOutput(center: [number, number], size: [number, number], outW: number, outH: number, angle = 0): Affine {
  const sx = outW / size[0];
  const sy = outH / size[1];
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  // dst = S · R(-angle) · (src - center) + out/2
  const a = sx * cos;
  const b = sx * sin;
  const d = -sy * sin;
  const e = sy * cos;
  return [a, b, outW / 2 - (a * center[0] + b * center[1]), d, e, outH / 2 - (d * center[0] + e * center[1])];
}

export interface WarpOptions {
  /** Value of samples outside the image, per channel (default 0). */
  border?: readonly [number, number, number];
}

/**
 * Samples `image` (RGB or RGBA; alpha dropped) through the affine map `m` (source -> output pixel
 * coordinates) into a `width` x `height` float RGB buffer, like cv2.warpAffine with INTER_LINEAR and
 * BORDER_CONSTANT.
 */
export function warpAffine(image: Image, m: Affine, width: number, height: number, options: WarpOptions = {}): Float32Array {
  const inv = invertAffine(m);
  const border = options.border ?? [0, 0, 0];
  const { width: W, height: H, channels: C, data } = image;
  const out = new Float32Array(width * height * 3);
  const px = (x: number, y: number, c: number) => (x >= 0 && y >= 0 && x < W && y < H ? data[(y * W + x) * C + c] : border[c]);
  let o = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++, o += 3) {
      const sx = inv[0] * x + inv[1] * y + inv[2];
      const sy = inv[3] * x + inv[4] * y + inv[5];
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
        const i00 = (y0 * W + x0) * C;
        const i01 = i00 + C;
        const i10 = i00 + W * C;
        const i11 = i10 + C;
        for (let c = 0; c < 3; c++) {
          const top = data[i00 + c] + (data[i01 + c] - data[i00 + c]) * fx;
          const bottom = data[i10 + c] + (data[i11 + c] - data[i10 + c]) * fx;
          out[o + c] = top + (bottom - top) * fy;
        }
      } else if (x0 >= -1 && y0 >= -1 && x0 < W && y0 < H) {
        for (let c = 0; c < 3; c++) {
          const top = px(x0, y0, c) + (px(x0 + 1, y0, c) - px(x0, y0, c)) * fx;
          const bottom = px(x0, y0 + 1, c) + (px(x0 + 1, y0 + 1, c) - px(x0, y0 + 1, c)) * fx;
          out[o + c] = top + (bottom - top) * fy;
        }
      } else {
        out[o] = border[0];
        out[o + 1] = border[1];
        out[o + 2] = border[2];
      }
    }
  }
  return out;
}

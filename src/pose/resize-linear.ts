// OpenCV's cv2.resize(..., INTER_LINEAR) for 8-bit images, bit for bit: the reference's pose images are
// drawn on a large canvas and shrunk with it. For downscales it does NOT average an area: each output pixel
// mixes the 2x2 source pixels around its centre, with 11-bit fixed-point weights, so thin lines alias.
// Exactly-2x downscales are the one exception: OpenCV switches to its area path (a 2x2 mean).

import type { Image } from '../io/image.ts';

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/** Source index and fixed-point weights along one axis, computed in float32 as OpenCV does. */
function axisTaps(srcLen: number, dstLen: number, clampEnd: boolean) {
  const scale = 1 / (dstLen / srcLen);
  const index = new Int32Array(dstLen);
  const w0 = new Int32Array(dstLen);
  const w1 = new Int32Array(dstLen);
  for (let d = 0; d < dstLen; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    // Columns clamp the tap and drop the fraction at the borders; rows keep the fraction and clamp the row.
    if (clampEnd && s < 0) {
      f = 0;
      s = 0;
    }
    if (clampEnd && s >= srcLen - 1) {
      f = 0;
      s = srcLen - 1;
    }
    index[d] = s;
    w0[d] = roundHalfEven(Math.fround(1 - f) * COEF_SCALE);
    w1[d] = roundHalfEven(f * COEF_SCALE);
  }
  return { index, w0, w1 };
}

function halve(src: Image): Image {
  const { width, height, channels: cn, data } = src;
  const w = width / 2;
  const h = height / 2;
  const out = new Uint8Array(w * h * cn);
  const row = width * cn;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < cn; c++) {
        const i = 2 * y * row + 2 * x * cn + c;
        out[(y * w + x) * cn + c] = (data[i] + data[i + cn] + data[i + row] + data[i + row + cn] + 2) >> 2;
      }
    }
  }
  return { width: w, height: h, channels: cn, data: out };
}

/** cv2.resize(src, (width, height)) with the default INTER_LINEAR, for 8-bit RGB(A) images. */
export function resizeLinearCv(src: Image, width: number, height: number): Image {
  const { width: sw, height: sh, channels: cn, data } = src;
  if (sw === width && sh === height) return { ...src, data: data.slice() };
  if (sw === 2 * width && sh === 2 * height) return halve(src);

  const xs = axisTaps(sw, width, true);
  const ys = axisTaps(sh, height, false);
  const out = new Uint8Array(width * height * cn);
  const rowBytes = sw * cn;
  // Horizontal pass of one source row into fixed point (values up to 255 * 2048).
  const horizontal = (sy: number, dst: Int32Array) => {
    const base = sy * rowBytes;
    for (let x = 0; x < width; x++) {
      const i = base + xs.index[x] * cn;
      for (let c = 0; c < cn; c++) {
        const a = data[i + c];
        const b = xs.w1[x] === 0 ? 0 : data[i + cn + c];
        dst[x * cn + c] = a * xs.w0[x] + b * xs.w1[x];
      }
    }
  };
  const r0 = new Int32Array(width * cn);
  const r1 = new Int32Array(width * cn);
  for (let y = 0; y < height; y++) {
    const sy = ys.index[y];
    horizontal(Math.min(Math.max(sy, 0), sh - 1), r0);
    horizontal(Math.min(Math.max(sy + 1, 0), sh - 1), r1);
    const b0 = ys.w0[y];
    const b1 = ys.w1[y];
    const o = y * width * cn;
    for (let k = 0; k < width * cn; k++) {
      // OpenCV's 8-bit vertical step: drop 4 bits, multiply-high by the 11-bit weights, round the last 2 bits.
      out[o + k] = (((b0 * (r0[k] >> 4)) >> 16) + ((b1 * (r1[k] >> 4)) >> 16) + 2) >> 2;
    }
  }
  return { width, height, channels: cn, data: out };
}

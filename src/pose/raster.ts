// OpenCV-compatible rasterisation of the few primitives DWPose's draw_pose uses (8-connected, no antialiasing),
// written from OpenCV's documented behaviour so that our pose images match the reference pixel for pixel:
// `ellipse2Poly`, `fillConvexPoly`, filled `circle`, `line` with thickness 2.
// Coordinates are integers, or fixed point with `shift` fractional bits like OpenCV's. JavaScript bit shifts are
// 32-bit, so the 64-bit fixed-point arithmetic below uses exact float division by powers of two instead.

import type { Image } from '../io/image.ts';

export type Rgb = readonly [number, number, number];
type Point = readonly [number, number];

const XY_SHIFT = 16;
const XY_ONE = 1 << XY_SHIFT;

/** `a >> n` on 64-bit integers (floor division by 2^n). */
function shr(a: number, n: number): number {
  return Math.floor(a / 2 ** n);
}

/** C's integer division (truncates toward zero), exact for integers below 2^53. */
function idiv(a: number, b: number): number {
  let q = Math.trunc(a / b);
  const r = a - q * b;
  const sameSign = a >= 0 === b > 0;
  if (r !== 0 && Math.sign(r) !== Math.sign(a)) q += sameSign ? -1 : 1;
  else if (Math.abs(r) >= Math.abs(b)) q += sameSign ? 1 : -1;
  return q;
}

/** OpenCV's cvRound: to nearest, ties to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Colour components as OpenCV stores a Scalar into 8-bit pixels (saturate_cast: round, clamp). */
function toPixel(color: Rgb): Rgb {
  const c = (v: number) => Math.min(255, Math.max(0, roundHalfEven(v)));
  return [c(color[0]), c(color[1]), c(color[2])];
}

function setPixel(img: Image, x: number, y: number, color: Rgb): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const i = (y * img.width + x) * 3;
  img.data[i] = color[0];
  img.data[i + 1] = color[1];
  img.data[i + 2] = color[2];
}

/** Pixels x1..x2 (inclusive) of row y, clipped to the image. */
function hline(img: Image, y: number, x1: number, x2: number, color: Rgb): void {
  if (y < 0 || y >= img.height) return;
  const from = Math.max(x1, 0);
  const to = Math.min(x2, img.width - 1);
  for (let x = from, i = (y * img.width + from) * 3; x <= to; x++, i += 3) {
    img.data[i] = color[0];
    img.data[i + 1] = color[1];
    img.data[i + 2] = color[2];
  }
}

/**
 * OpenCV's clipLine: clips the segment to [0,w-1] x [0,h-1] in place (coordinates in the same units as w, h).
 * Returns false when nothing is left.
 */
function clipLine(w: number, h: number, p1: number[], p2: number[]): boolean {
  const right = w - 1;
  const bottom = h - 1;
  const code = (x: number, y: number) => (x < 0 ? 1 : 0) + (x > right ? 2 : 0) + (y < 0 ? 4 : 0) + (y > bottom ? 8 : 0);
  let c1 = code(p1[0], p1[1]);
  let c2 = code(p2[0], p2[1]);
  if ((c1 & c2) === 0 && (c1 | c2) !== 0) {
    if (c1 & 12) {
      const a = c1 < 8 ? 0 : bottom;
      p1[0] += Math.trunc(((a - p1[1]) * (p2[0] - p1[0])) / (p2[1] - p1[1]));
      p1[1] = a;
      c1 = (p1[0] < 0 ? 1 : 0) + (p1[0] > right ? 2 : 0);
    }
    if (c2 & 12) {
      const a = c2 < 8 ? 0 : bottom;
      p2[0] += Math.trunc(((a - p2[1]) * (p2[0] - p1[0])) / (p2[1] - p1[1]));
      p2[1] = a;
      c2 = (p2[0] < 0 ? 1 : 0) + (p2[0] > right ? 2 : 0);
    }
    if ((c1 & c2) === 0 && (c1 | c2) !== 0) {
      if (c1) {
        const a = c1 === 1 ? 0 : right;
        p1[1] += Math.trunc(((a - p1[0]) * (p2[1] - p1[1])) / (p2[0] - p1[0]));
        p1[0] = a;
        c1 = 0;
      }
      if (c2) {
        const a = c2 === 1 ? 0 : right;
        p2[1] += Math.trunc(((a - p2[0]) * (p2[1] - p1[1])) / (p2[0] - p1[0]));
        p2[0] = a;
        c2 = 0;
      }
    }
  }
  return (c1 | c2) === 0;
}

/** An 8-connected Bresenham line between integer points, walked left to right (OpenCV's LineIterator). */
function line8(img: Image, from: Point, to: Point, color: Rgb): void {
  const p1 = [from[0], from[1]];
  const p2 = [to[0], to[1]];
  const outside = (p: number[]) => p[0] < 0 || p[1] < 0 || p[0] >= img.width || p[1] >= img.height;
  if ((outside(p1) || outside(p2)) && !clipLine(img.width, img.height, p1, p2)) return;
  let [x, y] = p1;
  let dx = p2[0] - p1[0];
  let dy = p2[1] - p1[1];
  if (dx < 0) {
    [x, y] = p2;
    dx = -dx;
    dy = -dy;
  }
  const stepY = dy < 0 ? -1 : 1;
  dy = Math.abs(dy);
  const vertical = dy > dx;
  const major = vertical ? dy : dx;
  const minor = vertical ? dx : dy;
  let err = major - 2 * minor;
  for (let i = 0; i <= major; i++) {
    setPixel(img, x, y, color);
    const stepMinor = err < 0;
    err += -2 * minor + (stepMinor ? 2 * major : 0);
    if (vertical) {
      y += stepY;
      if (stepMinor) x += 1;
    } else {
      x += 1;
      if (stepMinor) y += stepY;
    }
  }
}

/** A line between 16.16 fixed-point points (OpenCV's Line2, used for the edges of thick lines). */
function lineFixed(img: Image, from: Point, to: Point, color: Rgb): void {
  const p1 = [from[0], from[1]];
  const p2 = [to[0], to[1]];
  if (!clipLine(img.width * XY_ONE, img.height * XY_ONE, p1, p2)) return;
  let dx = p2[0] - p1[0];
  let dy = p2[1] - p1[1];
  const ax = Math.abs(dx);
  const ay = Math.abs(dy);
  const oddOrNext = (v: number) => (v % 2 === 0 ? v + 1 : v); // C's (v | 1)
  let xStep: number;
  let yStep: number;
  let count: number;
  if (ax > ay) {
    if (dx < 0) {
      [p1[0], p2[0]] = [p2[0], p1[0]];
      [p1[1], p2[1]] = [p2[1], p1[1]];
      dy = -dy;
    }
    xStep = XY_ONE;
    yStep = idiv(dy * XY_ONE, oddOrNext(ax));
    count = shr(p2[0] - p1[0], XY_SHIFT);
  } else {
    if (dy < 0) {
      [p1[0], p2[0]] = [p2[0], p1[0]];
      [p1[1], p2[1]] = [p2[1], p1[1]];
      dx = -dx;
    }
    xStep = idiv(dx * XY_ONE, oddOrNext(ay));
    yStep = XY_ONE;
    count = shr(p2[1] - p1[1], XY_SHIFT);
  }
  let x = p1[0] + XY_ONE / 2;
  let y = p1[1] + XY_ONE / 2;
  setPixel(img, shr(p2[0] + XY_ONE / 2, XY_SHIFT), shr(p2[1] + XY_ONE / 2, XY_SHIFT), color);
  if (ax > ay) {
    x = shr(x, XY_SHIFT);
    for (; count >= 0; count--, x++, y += yStep) setPixel(img, x, shr(y, XY_SHIFT), color);
  } else {
    y = shr(y, XY_SHIFT);
    for (; count >= 0; count--, y++, x += xStep) setPixel(img, shr(x, XY_SHIFT), y, color);
  }
}

/**
 * OpenCV's fillConvexPoly (LINE_8): the outline drawn with 8-connected lines, then scanlines between the two
 * edges walked down from the top vertex. `shift` is the number of fractional bits of the vertices.
 */
export function fillConvexPoly(img: Image, vertices: readonly Point[], color: Rgb, shift = 0): void {
  const px = toPixel(color);
  const n = vertices.length;
  const delta = shift === 0 ? 0 : 2 ** (shift - 1);
  const up = 2 ** (XY_SHIFT - shift);
  let [xmin, ymin] = vertices[0];
  let [xmax, ymax] = vertices[0];
  let imin = 0;
  for (let i = 0; i < n; i++) {
    const prev = vertices[(i + n - 1) % n];
    const v = vertices[i];
    if (v[1] < ymin) {
      ymin = v[1];
      imin = i;
    }
    ymax = Math.max(ymax, v[1]);
    xmax = Math.max(xmax, v[0]);
    xmin = Math.min(xmin, v[0]);
    if (shift === 0) line8(img, prev, v, px);
    else lineFixed(img, [prev[0] * up, prev[1] * up], [v[0] * up, v[1] * up], px);
  }
  xmin = shr(xmin + delta, shift);
  xmax = shr(xmax + delta, shift);
  ymin = shr(ymin + delta, shift);
  ymax = shr(ymax + delta, shift);
  if (n < 3 || xmax < 0 || ymax < 0 || xmin >= img.width || ymin >= img.height) return;
  ymax = Math.min(ymax, img.height - 1);

  // Two edges walk from the top vertex, one forward and one backward through the vertex list.
  const edges = [
    { idx: imin, di: 1, x: -XY_ONE, dx: 0, ye: ymin },
    { idx: imin, di: n - 1, x: -XY_ONE, dx: 0, ye: ymin },
  ];
  let remaining = n;
  let y = ymin;
  do {
    for (const edge of edges) {
      if (y < edge.ye) continue;
      let idx0 = edge.idx;
      let idx = (idx0 + edge.di) % n;
      while (remaining-- > 0) {
        const ty = shr(vertices[idx][1] + delta, shift);
        if (ty > y) {
          const xs = vertices[idx0][0] * up;
          const xe = vertices[idx][0] * up;
          edge.ye = ty;
          edge.dx = idiv((xe - xs) * 2 + (ty - y), 2 * (ty - y));
          edge.x = xs;
          edge.idx = idx;
          break;
        }
        idx0 = idx;
        idx = (idx + edge.di) % n;
      }
    }
    if (remaining < 0) break;
    if (y >= 0) {
      const [left, right] = edges[0].x > edges[1].x ? [edges[1], edges[0]] : [edges[0], edges[1]];
      const x1 = shr(left.x + XY_ONE / 2, XY_SHIFT);
      const x2 = shr(right.x + XY_ONE / 2, XY_SHIFT);
      if (x2 >= 0 && x1 < img.width) hline(img, y, x1, x2, px);
    }
    edges[0].x += edges[0].dx;
    edges[1].x += edges[1].dx;
  } while (++y <= ymax);
}

/** OpenCV's filled circle for LINE_8 and no shift (a midpoint circle, spans filled row by row). */
export function fillCircle(img: Image, cx: number, cy: number, radius: number, color: Rgb): void {
  const px = toPixel(color);
  let err = 0;
  let dx = radius;
  let dy = 0;
  let plus = 1;
  let minus = 2 * radius - 1;
  while (dx >= dy) {
    hline(img, cy - dy, cx - dx, cx + dx, px);
    hline(img, cy + dy, cx - dx, cx + dx, px);
    hline(img, cy - dx, cx - dy, cx + dy, px);
    hline(img, cy + dx, cx - dy, cx + dy, px);
    dy++;
    err += plus;
    plus += 2;
    if (err > 0) {
      err -= minus;
      dx--;
      minus -= 2;
    }
  }
}

/**
 * OpenCV's line (LINE_8) between integer points. Thickness above 1 draws a filled 16.16 fixed-point quad
 * around the segment plus round caps, as OpenCV's ThickLine does.
 */
export function drawLine(img: Image, from: Point, to: Point, thickness: number, color: Rgb): void {
  const px = toPixel(color);
  if (thickness <= 1) {
    line8(img, from, to, px);
    return;
  }
  const p0: Point = [from[0] * XY_ONE, from[1] * XY_ONE];
  const p1: Point = [to[0] * XY_ONE, to[1] * XY_ONE];
  const dx = (p0[0] - p1[0]) / XY_ONE;
  const dy = (p1[1] - p0[1]) / XY_ONE;
  const halfWidth = thickness * (XY_ONE / 2); // thickness << (XY_SHIFT - 1)
  const odd = thickness & 1;
  const r2 = dx * dx + dy * dy;
  if (Math.abs(r2) > Number.EPSILON) {
    const r = (halfWidth + odd * XY_ONE * 0.5) / Math.sqrt(r2);
    const ox = roundHalfEven(dy * r);
    const oy = roundHalfEven(dx * r);
    const quad: Point[] = [
      [p0[0] + ox, p0[1] + oy],
      [p0[0] - ox, p0[1] - oy],
      [p1[0] - ox, p1[1] - oy],
      [p1[0] + ox, p1[1] + oy],
    ];
    fillConvexPoly(img, quad, px, XY_SHIFT);
  }
  const capRadius = shr(halfWidth + XY_ONE / 2, XY_SHIFT);
  for (const p of [from, to]) fillCircle(img, p[0], p[1], capRadius, px);
}

// OpenCV's table of sin(degrees) for 0..450, stored as floats with 7 decimals.
const SIN_TABLE = Float32Array.from({ length: 451 }, (_, deg) => Number(Math.sin((deg * Math.PI) / 180).toFixed(7)));

/**
 * OpenCV's integer ellipse2Poly: vertices of the ellipse (centre, half-axes, rotation in whole degrees) every
 * `delta` degrees from `arcStart` to `arcEnd`, rounded to integers with consecutive duplicates removed.
 */
export function ellipse2Poly(
  center: Point,
  axes: Point,
  angle: number,
  arcStart = 0,
  arcEnd = 360,
  delta = 1,
): [number, number][] {
  while (angle < 0) angle += 360;
  while (angle > 360) angle -= 360;
  if (arcStart > arcEnd) [arcStart, arcEnd] = [arcEnd, arcStart];
  while (arcStart < 0) {
    arcStart += 360;
    arcEnd += 360;
  }
  while (arcEnd > 360) {
    arcEnd -= 360;
    arcStart -= 360;
  }
  if (arcEnd - arcStart > 360) {
    arcStart = 0;
    arcEnd = 360;
  }
  const cos = SIN_TABLE[450 - angle];
  const sin = SIN_TABLE[angle];
  const points: [number, number][] = [];
  for (let i = arcStart; i < arcEnd + delta; i += delta) {
    let a = Math.min(i, arcEnd);
    if (a < 0) a += 360;
    const x = axes[0] * SIN_TABLE[450 - a];
    const y = axes[1] * SIN_TABLE[a];
    const px = roundHalfEven(center[0] + x * cos - y * sin);
    const py = roundHalfEven(center[1] + x * sin + y * cos);
    const last = points[points.length - 1];
    if (!last || last[0] !== px || last[1] !== py) points.push([px, py]);
  }
  if (points.length === 1) return [[center[0], center[1]], [center[0], center[1]]];
  return points;
}

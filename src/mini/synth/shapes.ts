// An anti-aliased rasteriser of filled shapes for the synthetic figures: each shape is a signed distance
// function in pixels (negative inside) and a paint function; a pixel's coverage is clamp(0.5 − d, 0, 1), i.e. a
// one-pixel ramp across the edge, and shapes are composited over each other in the order they are drawn
// (painter's algorithm: the caller sorts by depth). Pixel i covers [i, i+1), so its centre is i + 0.5 — the
// same convention as keypoints scaled by the frame size.
//
// The distances are exact for discs, capsules and polygons and the usual first-order approximation for
// ellipses (|p/r| − 1 scaled by the gradient), which is what the 1-pixel ramp needs.

import type { Image } from '../../io/image.ts';

export type Vec2 = readonly [number, number];
export type Colour = readonly [number, number, number];

/** Signed distance in pixels; negative inside. */
export type Sdf = (x: number, y: number) => number;
/** Colour (0-255 floats) at a pixel; may read the distance to shade edges. */
export type Paint = (x: number, y: number, d: number) => Colour;

export interface Bounds { x0: number; y0: number; x1: number; y1: number }

/** A float RGB canvas (0-255 per channel, not yet rounded). */
export class Canvas {
  readonly data: Float32Array;
  constructor(readonly width: number, readonly height: number) {
    this.data = new Float32Array(width * height * 3);
  }

  /** Sets every pixel from `paint` (backgrounds). */
  fillAll(paint: (x: number, y: number) => Colour): void {
    let i = 0;
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++, i += 3) {
        const c = paint(x + 0.5, y + 0.5);
        this.data[i] = c[0];
        this.data[i + 1] = c[1];
        this.data[i + 2] = c[2];
      }
    }
  }

  /** Composites a shape over the canvas within `bounds` (pixel units; clipped to the canvas). */
  draw(sdf: Sdf, bounds: Bounds, paint: Paint | Colour, opacity = 1): void {
    const xa = Math.max(0, Math.floor(bounds.x0 - 1));
    const ya = Math.max(0, Math.floor(bounds.y0 - 1));
    const xb = Math.min(this.width, Math.ceil(bounds.x1 + 1));
    const yb = Math.min(this.height, Math.ceil(bounds.y1 + 1));
    const solid = typeof paint === 'function' ? undefined : paint;
    for (let y = ya; y < yb; y++) {
      for (let x = xa; x < xb; x++) {
        const px = x + 0.5;
        const py = y + 0.5;
        const d = sdf(px, py);
        const a = Math.min(1, Math.max(0, 0.5 - d)) * opacity;
        if (a <= 0) continue;
        const c = solid ?? (paint as Paint)(px, py, d);
        const i = (y * this.width + x) * 3;
        this.data[i] += (c[0] - this.data[i]!) * a;
        this.data[i + 1] += (c[1] - this.data[i + 1]!) * a;
        this.data[i + 2] += (c[2] - this.data[i + 2]!) * a;
      }
    }
  }

  /** 8-bit RGB, rounded and clamped. */
  toImage(): Image {
    const out = new Uint8Array(this.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(this.data[i]!)));
    return { width: this.width, height: this.height, channels: 3, data: out };
  }
}

/** A shape: its distance function and a box that holds it. */
export interface Shape { sdf: Sdf; bounds: Bounds }

export function disc(c: Vec2, r: number): Shape {
  return {
    sdf: (x, y) => Math.hypot(x - c[0], y - c[1]) - r,
    bounds: { x0: c[0] - r, y0: c[1] - r, x1: c[0] + r, y1: c[1] + r },
  };
}

/** A segment a→b swept by a radius going linearly from ra to rb (a limb). */
export function capsule(a: Vec2, b: Vec2, ra: number, rb = ra): Shape {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const r = Math.max(ra, rb);
  return {
    sdf: (x, y) => {
      const t = len2 > 0 ? Math.min(1, Math.max(0, ((x - a[0]) * dx + (y - a[1]) * dy) / len2)) : 0;
      return Math.hypot(x - a[0] - t * dx, y - a[1] - t * dy) - (ra + (rb - ra) * t);
    },
    bounds: { x0: Math.min(a[0], b[0]) - r, y0: Math.min(a[1], b[1]) - r, x1: Math.max(a[0], b[0]) + r, y1: Math.max(a[1], b[1]) + r },
  };
}

/** An ellipse with half-axes (rx, ry), rotated by `angle` radians (x axis towards y). */
export function ellipse(c: Vec2, rx: number, ry: number, angle = 0): Shape {
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const r = Math.max(rx, ry);
  rx = Math.max(rx, 1e-3);
  ry = Math.max(ry, 1e-3);
  return {
    sdf: (x, y) => {
      const px = x - c[0];
      const py = y - c[1];
      const u = px * cos + py * sin;
      const v = -px * sin + py * cos;
      const k0 = Math.hypot(u / rx, v / ry);
      const k1 = Math.hypot(u / (rx * rx), v / (ry * ry));
      return k1 > 0 ? (k0 * (k0 - 1)) / k1 : -Math.min(rx, ry);
    },
    bounds: { x0: c[0] - r, y0: c[1] - r, x1: c[0] + r, y1: c[1] + r },
  };
}

/** A simple polygon (any winding, convex or not), optionally rounded outward by `round` pixels. */
export function polygon(points: readonly Vec2[], round = 0): Shape {
  const n = points.length;
  if (n < 3) throw new Error(`synth polygon: expected at least 3 points, found ${n}`);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y] of points) {
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
  }
  return {
    sdf: (x, y) => {
      let d2 = Infinity;
      let inside = false;
      for (let i = 0, j = n - 1; i < n; j = i++) {
        const [ax, ay] = points[j]!;
        const [bx, by] = points[i]!;
        const ex = bx - ax;
        const ey = by - ay;
        const wx = x - ax;
        const wy = y - ay;
        const len2 = ex * ex + ey * ey;
        const t = len2 > 0 ? Math.min(1, Math.max(0, (wx * ex + wy * ey) / len2)) : 0;
        d2 = Math.min(d2, (wx - t * ex) ** 2 + (wy - t * ey) ** 2);
        if ((ay > y) !== (by > y) && x < ax + ((y - ay) * ex) / ey) inside = !inside;
      }
      return (inside ? -Math.sqrt(d2) : Math.sqrt(d2)) - round;
    },
    bounds: { x0: x0 - round, y0: y0 - round, x1: x1 + round, y1: y1 + round },
  };
}

/** The outline of a shape: a band of half-width `halfWidth` around its edge (glasses rims). */
export function ring(shape: Shape, halfWidth: number): Shape {
  const b = shape.bounds;
  return {
    sdf: (x, y) => Math.abs(shape.sdf(x, y)) - halfWidth,
    bounds: { x0: b.x0 - halfWidth, y0: b.y0 - halfWidth, x1: b.x1 + halfWidth, y1: b.y1 + halfWidth },
  };
}

/** `a` minus `b` (hair = a cap minus the face). */
export function subtract(a: Shape, b: Shape): Shape {
  return { sdf: (x, y) => Math.max(a.sdf(x, y), -b.sdf(x, y)), bounds: a.bounds };
}

/** `a` ∩ `b`. */
export function intersect(a: Shape, b: Shape): Shape {
  return { sdf: (x, y) => Math.max(a.sdf(x, y), b.sdf(x, y)), bounds: a.bounds };
}

/** Paint that darkens towards the edge of a round part (a cheap sense of volume); `width` = the part's radius. */
export function shaded(colour: Colour, width: number, strength = 0.3): Paint {
  return (_x, _y, d) => {
    const k = 1 - strength * Math.min(1, Math.max(0, 1 + d / Math.max(width, 1e-3))) ** 2;
    return [colour[0] * k, colour[1] * k, colour[2] * k];
  };
}

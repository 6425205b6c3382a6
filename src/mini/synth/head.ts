// The synthetic head: its pose estimated from the OpenPose face points (nose, eyes, ears) and the neck, a 3D
// face template (the 68 iBUG landmarks and the feature positions, on an ellipsoid of radius 1, y down, z
// towards the camera) rotated by yaw then roll into the image, and the drawing of skin, face features and hair.
// Everything drawn on the face is placed by the same projection that gives the 68 landmarks and the face box,
// so they follow the drawn head exactly.
//
// Yaw from the points, with the BVH head model of motion-data.ts (nose 0.48·s forward of the centre, ears
// ±0.33·s sideways): the nose's offset from the ears' midpoint along the eye line is 0.53·s·sin(yaw), the
// ears' separation 0.66·s·cos(yaw). Positive yaw turns the face towards image right.

import type { Keypoint } from '../../pose/keypoints.ts';
import { VISIBLE_THRESHOLD } from '../../pose/keypoints.ts';
import type { Identity } from './identity.ts';
import type { Canvas, Colour, Shape, Vec2 } from './shapes.ts';
import { capsule, disc, ellipse, polygon, ring, shaded, subtract } from './shapes.ts';

export interface HeadPose {
  centre: Vec2;
  /** Horizontal radius in pixels; the head is 1.12x taller than wide. */
  radius: number;
  /** Radians, (−π, π]; |yaw| < π/2 shows the face. */
  yaw: number;
  /** In-plane rotation, radians (x towards y). */
  roll: number;
}

/** Head height / width. */
const HEAD_ASPECT = 1.12;
const NOSE_FORWARD = 0.53;
const EARS_APART = 0.66;
const PROFILE_YAW = 1.2;
const MAX_ROLL = 0.6;

const visible = (k: Keypoint | undefined): k is Keypoint => k !== undefined && k[2] >= VISIBLE_THRESHOLD;
const midpoint = (a: Keypoint, b: Keypoint): Vec2 => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];

/**
 * Head pose from one frame's body points (pixels). `radius` is the drawn head's radius (from the identity and
 * the clip's torso length): the head sits at least 1.15 radii from the neck so a large head clears the shoulders.
 */
export function estimateHeadPose(body: readonly Keypoint[], radius: number): HeadPose {
  const [nose, neck] = [body[0], body[1]];
  const [rEye, lEye, rEar, lEar] = [body[14], body[15], body[16], body[17]];
  let roll = 0;
  if (visible(rEye) && visible(lEye)) roll = Math.atan2(lEye[1] - rEye[1], lEye[0] - rEye[0]);
  else if (visible(rEar) && visible(lEar)) {
    const dx = lEar[0] - rEar[0], dy = lEar[1] - rEar[1];
    roll = dx >= 0 ? Math.atan2(dy, dx) : Math.atan2(-dy, -dx); // the back of the head: same roll, flipped line
  }
  roll = Math.max(-MAX_ROLL, Math.min(MAX_ROLL, roll));
  const ex: Vec2 = [Math.cos(roll), Math.sin(roll)];
  const along = (a: Vec2, b: Vec2) => (b[0] - a[0]) * ex[0] + (b[1] - a[1]) * ex[1];

  let yaw = 0;
  let centre: Vec2 | undefined;
  if (visible(rEar) && visible(lEar)) {
    const mid = midpoint(rEar, lEar);
    const apart = along([rEar[0], rEar[1]], [lEar[0], lEar[1]]) / EARS_APART;
    yaw = visible(nose) ? Math.atan2(along(mid, [nose[0], nose[1]]) / NOSE_FORWARD, Math.max(apart, 1e-6)) : Math.PI;
    centre = mid;
  } else if (visible(nose) && (visible(rEar) || visible(lEar))) {
    const ear = visible(rEar) ? rEar : lEar!;
    yaw = Math.sign(along([ear[0], ear[1]], [nose[0], nose[1]]) || 1) * PROFILE_YAW;
    centre = [ear[0] + 0.4 * (nose[0] - ear[0]), ear[1] + 0.4 * (nose[1] - ear[1])];
  } else if (visible(rEye) && visible(lEye)) {
    centre = midpoint(rEye, lEye);
  } else if (visible(nose)) {
    centre = [nose[0], nose[1]];
  } else if (visible(rEar) || visible(lEar)) {
    const ear = visible(rEar) ? rEar : lEar!;
    centre = [ear[0], ear[1]];
    yaw = Math.PI;
  }
  if (visible(neck)) {
    const c = centre ?? [neck[0], neck[1] - 2 * radius];
    let dx = c[0] - neck[0], dy = c[1] - neck[1];
    const len = Math.hypot(dx, dy);
    if (len < 1e-6) [dx, dy] = [0, -1];
    else [dx, dy] = [dx / len, dy / len];
    const dist = Math.max(len, 1.15 * radius * HEAD_ASPECT);
    centre = [neck[0] + dx * dist, neck[1] + dy * dist];
  }
  if (!centre) throw new Error('estimateHeadPose: the frame has neither a neck nor any face point');
  return { centre, radius, yaw, roll };
}

/** Temporal smoothing of a clip's head poses (a [1 2 1]/4 filter; yaw unwrapped first) against keypoint jitter. */
export function smoothHeadPoses(poses: readonly HeadPose[]): HeadPose[] {
  const yaws = poses.map((p) => p.yaw);
  for (let i = 1; i < yaws.length; i++) {
    while (yaws[i]! - yaws[i - 1]! > Math.PI) yaws[i]! -= 2 * Math.PI;
    while (yaws[i]! - yaws[i - 1]! < -Math.PI) yaws[i]! += 2 * Math.PI;
  }
  const at = <T>(a: readonly T[], i: number) => a[Math.max(0, Math.min(a.length - 1, i))]!;
  const filt = (f: (i: number) => number, i: number) => (f(i - 1) + 2 * f(i) + f(i + 1)) / 4;
  return poses.map((p, i) => {
    let yaw = filt((j) => at(yaws, j), i);
    yaw = Math.atan2(Math.sin(yaw), Math.cos(yaw));
    return {
      centre: [filt((j) => at(poses, j).centre[0], i), filt((j) => at(poses, j).centre[1], i)],
      radius: p.radius,
      yaw,
      roll: filt((j) => at(poses, j).roll, i),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Projection

export type Vec3 = readonly [number, number, number];

/** z of the ellipsoid's front surface at template (x, y); 0 on and beyond the rim. */
export function surfaceZ(x: number, y: number): number {
  return Math.sqrt(Math.max(0, 1 - x * x - (y / HEAD_ASPECT) ** 2));
}

/** Template point -> image pixel, and its depth after the yaw (> 0 faces the camera). */
export function project(head: HeadPose, p: Vec3): { at: Vec2; depth: number } {
  const [x, y, z] = p;
  const cy = Math.cos(head.yaw), sy = Math.sin(head.yaw);
  const xr = x * cy + z * sy;
  const depth = -x * sy + z * cy;
  const cr = Math.cos(head.roll), sr = Math.sin(head.roll);
  const r = head.radius;
  return { at: [head.centre[0] + r * (xr * cr - y * sr), head.centre[1] + r * (xr * sr + y * cr)], depth };
}

/** Image pixel -> the template point of the visible head surface under it (clamped to the rim). */
export function unproject(head: HeadPose, px: number, py: number): Vec3 {
  const dx = (px - head.centre[0]) / head.radius, dy = (py - head.centre[1]) / head.radius;
  const cr = Math.cos(head.roll), sr = Math.sin(head.roll);
  let xr = dx * cr + dy * sr;
  let y = -dx * sr + dy * cr;
  const k = Math.hypot(xr, y / HEAD_ASPECT);
  if (k > 1) [xr, y] = [xr / k, y / k];
  const zr = surfaceZ(xr, y);
  const cy = Math.cos(head.yaw), sy = Math.sin(head.yaw);
  return [xr * cy - zr * sy, y, xr * sy + zr * cy];
}

const onSurface = (x: number, y: number, lift = 0): Vec3 => [x, y, surfaceZ(x, y) + lift];

/** Template positions of the face features of an identity. */
function features(face: Identity['face']) {
  const s = face.eyeSpacing;
  return {
    eyes: [[-s, 0.02], [s, 0.02]] as const,
    eyeHalfWidth: face.eyeSize,
    eyeHalfHeight: 0.6 * face.eyeSize,
    browY: -0.2,
    noseTip: 0.32,
    mouthY: 0.58,
    mouthHalfWidth: face.mouthWidth,
    mouthHalfHeight: 0.075,
  };
}

/** The 68 iBUG landmarks of the identity's face, in template coordinates (index 0 = the person's right jaw). */
export function faceTemplate68(face: Identity['face']): Vec3[] {
  const f = features(face);
  const pts: Vec3[] = [];
  for (let i = 0; i < 17; i++) { // jaw, from the right ear down around the chin
    const t = (Math.PI * i) / 16;
    pts.push(onSurface(-0.88 * Math.cos(t), 0.1 + 0.92 * Math.sin(t)));
  }
  for (const side of [-1, 1]) { // brows 17-21 (right), 22-26 (left), both left to right in the image
    for (let i = 0; i < 5; i++) {
      const x = side * f.eyes[1][0] + 1.2 * f.eyeHalfWidth * (i / 2 - 1);
      const arch = 0.05 * Math.sin((Math.PI * i) / 4);
      pts.push(onSurface(x, f.browY - arch + side * face.browTilt * 0.1 * (i / 2 - 1)));
    }
  }
  for (let i = 0; i < 4; i++) pts.push(onSurface(0, -0.05 + (i * (f.noseTip + 0.05)) / 3, 0.05 * i)); // 27-30 bridge
  for (let i = 0; i < 5; i++) pts.push(onSurface(-0.14 + 0.07 * i, f.noseTip + 0.06, 0.05)); // 31-35
  for (const [ex, ey] of f.eyes) { // 36-41 right eye, 42-47 left eye: corner, top, top, corner, bottom, bottom
    for (const a of [180, 120, 60, 0, 300, 240]) {
      const t = (a * Math.PI) / 180;
      pts.push(onSurface(ex + f.eyeHalfWidth * Math.cos(t), ey - f.eyeHalfHeight * Math.sin(t)));
    }
  }
  for (let i = 0; i < 12; i++) { // 48-59 outer lip, from the right corner over the top
    const t = Math.PI - (2 * Math.PI * i) / 12;
    pts.push(onSurface(f.mouthHalfWidth * Math.cos(t), f.mouthY - f.mouthHalfHeight * Math.sin(t)));
  }
  for (let i = 0; i < 8; i++) { // 60-67 inner lip
    const t = Math.PI - (2 * Math.PI * i) / 8;
    pts.push(onSurface(0.7 * f.mouthHalfWidth * Math.cos(t), f.mouthY - 0.3 * f.mouthHalfHeight * Math.sin(t)));
  }
  return pts;
}

/** The OpenPose head points the drawn head implies: nose, right eye, left eye, right ear, left ear (pixels + score). */
export function headKeypoints(head: HeadPose, face: Identity['face']): { nose: Keypoint; eyes: [Keypoint, Keypoint]; ears: [Keypoint, Keypoint] } {
  const f = features(face);
  const kp = (p: Vec3, minDepth: number): Keypoint => {
    const { at, depth } = project(head, p);
    return [at[0], at[1], depth > minDepth ? 1 : 0];
  };
  return {
    nose: kp(onSurface(0, f.noseTip, 0.12), -0.1),
    eyes: [kp(onSurface(f.eyes[0][0], f.eyes[0][1]), -0.1), kp(onSurface(f.eyes[1][0], f.eyes[1][1]), -0.1)],
    ears: [kp([-1, 0.05, -0.05], -0.7), kp([1, 0.05, -0.05], -0.7)],
  };
}

/** The face is drawn (and landmarks/box are scored visible) when it is turned less than ~80° from the camera. */
export function faceVisible(head: HeadPose): boolean {
  return Math.cos(head.yaw) > 0.17;
}

/** The 68 landmarks in pixels, score 1 when the face is visible (DWPose scores a turned face as a whole). */
export function faceLandmarks(head: HeadPose, face: Identity['face']): Keypoint[] {
  const score = faceVisible(head) ? 1 : 0;
  return faceTemplate68(face).map((p): Keypoint => {
    const { at } = project(head, p);
    return [at[0], at[1], score];
  });
}

/**
 * The face box (x1, y1, x2, y2 pixels) of a visible face, as a face detector frames it: the landmarks'
 * extent, raised by a third of the brow-to-chin height to take in the forehead. Undefined when the face is
 * turned away.
 */
export function faceBox(head: HeadPose, face: Identity['face']): [number, number, number, number] | undefined {
  if (!faceVisible(head)) return undefined;
  const pts = faceLandmarks(head, face);
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const [x, y] of pts) {
    x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x); y2 = Math.max(y2, y);
  }
  // "up" of the face is along −y rotated by the roll; raising along the box's vertical is enough for |roll| < 0.6.
  y1 -= (y2 - y1) / 3;
  return [x1, y1, x2, y2];
}

// ---------------------------------------------------------------------------------------------------------------
// Drawing

interface HairShape { hairline: number; back: number; scale: number }

const HAIR: Record<Identity['hair']['style'], HairShape | undefined> = {
  bald: undefined,
  short: { hairline: -0.45, back: -0.3, scale: 1.07 },
  long: { hairline: -0.5, back: 0.1, scale: 1.08 },
  bun: { hairline: -0.5, back: -0.2, scale: 1.05 },
  curly: { hairline: -0.38, back: 0.05, scale: 1.16 },
  ponytail: { hairline: -0.48, back: -0.25, scale: 1.05 },
};

const darker = (c: Colour, k: number): Colour => [c[0] * k, c[1] * k, c[2] * k];

function headShape(head: HeadPose, scale = 1): Shape {
  return ellipse(head.centre, head.radius * scale, head.radius * HEAD_ASPECT * scale, head.roll);
}

/** Hair that hangs behind the head (and, seen from the front, behind the body): long, curly, bun, ponytail. */
export function drawHairBehind(canvas: Canvas, head: HeadPose, id: Identity): void {
  const { style, colour } = id.hair;
  const r = head.radius;
  const down: Vec2 = [-Math.sin(head.roll), Math.cos(head.roll)];
  const paint = shaded(colour, r, 0.25);
  if (style === 'long') {
    const top = head.centre;
    const bottom: Vec2 = [top[0] + down[0] * 2.2 * r, top[1] + down[1] * 2.2 * r];
    const s = capsule(top, bottom, 1.05 * r, 0.85 * r);
    canvas.draw(s.sdf, s.bounds, paint);
  } else if (style === 'curly') {
    const c: Vec2 = [head.centre[0] - down[0] * 0.15 * r, head.centre[1] - down[1] * 0.15 * r];
    const s = ellipse(c, 1.3 * r, 1.3 * HEAD_ASPECT * r, head.roll);
    canvas.draw(s.sdf, s.bounds, paint);
  } else if (style === 'bun') {
    const s = disc(project(head, [0, -1.05, -0.35]).at, 0.42 * r);
    canvas.draw(s.sdf, s.bounds, paint);
  } else if (style === 'ponytail') {
    const a = project(head, [0, -0.55, -0.85]).at;
    const b = project(head, [0, 0.95, -1.35]).at;
    const s = capsule(a, b, 0.3 * r, 0.18 * r);
    canvas.draw(s.sdf, s.bounds, paint);
  }
}

/** Ears, the head, the face (when turned to the camera) and the hair cap. */
export function drawHead(canvas: Canvas, head: HeadPose, id: Identity): void {
  const r = head.radius;
  const skin = id.skin;
  for (const side of [-1, 1]) {
    const ear = project(head, [side, 0.08, -0.05]);
    if (ear.depth > -0.75) {
      const s = ellipse(ear.at, 0.2 * r, 0.3 * r, head.roll);
      canvas.draw(s.sdf, s.bounds, darker(skin, 0.9));
    }
  }
  const h = headShape(head);
  canvas.draw(h.sdf, h.bounds, shaded(skin, r, 0.22));
  if (faceVisible(head)) drawFace(canvas, head, id);
  const hair = HAIR[id.hair.style];
  if (hair) {
    // Hair covers the head surface above the hairline and behind the `back` depth: a pixel's distance to that
    // boundary is its template distance times the radius (the template is in radius units).
    const big = headShape(head, hair.scale);
    const skinRegion: Shape = {
      sdf: (x, y) => {
        const [tx, ty, tz] = unproject(head, x, y);
        return -Math.min(ty - (hair.hairline + 0.08 * tx * tx), tz - hair.back) * r;
      },
      bounds: big.bounds,
    };
    const cap = subtract(big, skinRegion);
    canvas.draw(cap.sdf, cap.bounds, shaded(id.hair.colour, r * hair.scale, 0.25));
  }
}

function drawFace(canvas: Canvas, head: HeadPose, id: Identity): void {
  const r = head.radius;
  const face = id.face;
  const f = features(face);
  const P = (x: number, y: number, lift = 0) => project(head, onSurface(x, y, lift));
  const thin = Math.max(0.45, 0.03 * r);

  const landmarks = faceTemplate68(face);
  if (face.beard) {
    const jaw = landmarks.slice(2, 15).map((p) => project(head, p).at);
    const top = face.beard.full ? 0.42 : 0.7;
    const pts: Vec2[] = [...jaw, P(0.55, top).at, P(-0.55, top).at];
    const s = polygon(pts);
    canvas.draw(s.sdf, s.bounds, face.beard.colour, 0.95);
    const m = capsule(P(-0.25, 0.47).at, P(0.25, 0.47).at, 0.07 * r); // moustache
    canvas.draw(m.sdf, m.bounds, face.beard.colour);
  }
  // Nose: a shade under the tip.
  const nose = P(0, f.noseTip, 0.1);
  if (nose.depth > 0) {
    const s = ellipse(nose.at, 0.1 * r, 0.07 * r, head.roll);
    canvas.draw(s.sdf, s.bounds, darker(id.skin, 0.8));
  }
  for (const [ex, ey] of f.eyes) {
    const c = P(ex, ey);
    if (c.depth < 0.15) continue;
    const a = P(ex - f.eyeHalfWidth, ey).at, b = P(ex + f.eyeHalfWidth, ey).at;
    const hw = Math.max(0.6, Math.hypot(b[0] - a[0], b[1] - a[1]) / 2);
    const hh = Math.max(0.6, f.eyeHalfHeight * r);
    const angle = Math.atan2(b[1] - a[1], b[0] - a[0]);
    const white = ellipse(c.at, hw, hh, angle);
    canvas.draw(white.sdf, white.bounds, [245, 245, 240]);
    // The iris looks where the head looks: shifted towards the turn.
    const iris = disc([c.at[0] + 0.25 * hw * Math.sin(head.yaw), c.at[1]], Math.min(hw, hh) * 0.85);
    canvas.draw(iris.sdf, iris.bounds, face.eyeColour);
    // The brow through its landmarks (17-19-21 on the right, 22-24-26 on the left).
    const b0 = ex < 0 ? 17 : 22;
    const browWidth = Math.max(0.5, face.browThickness * r);
    for (const [i, j] of [[b0, b0 + 2], [b0 + 2, b0 + 4]] as const) {
      const brow = capsule(project(head, landmarks[i]!).at, project(head, landmarks[j]!).at, browWidth);
      canvas.draw(brow.sdf, brow.bounds, darker(id.hair.colour, 0.8));
    }
    if (face.glasses) {
      const rim = face.glasses.round ? ellipse(c.at, hw * 1.5, hh * 2.4, angle)
        : polygon([[-1, -1], [1, -1], [1, 1], [-1, 1]].map(([u, v]): Vec2 => [
          c.at[0] + u! * hw * 1.5 * Math.cos(angle) - v! * hh * 2.2 * Math.sin(angle),
          c.at[1] + u! * hw * 1.5 * Math.sin(angle) + v! * hh * 2.2 * Math.cos(angle)]));
      const g = ring(rim, thin);
      canvas.draw(g.sdf, g.bounds, face.glasses.colour);
    }
  }
  if (face.glasses) {
    const inner = f.eyes[1][0] - 1.5 * f.eyeHalfWidth;
    const a = P(-inner, f.eyes[0][1]), b = P(inner, f.eyes[1][1]);
    const bridge = capsule(a.at, b.at, thin);
    canvas.draw(bridge.sdf, bridge.bounds, face.glasses.colour);
  }
  const mouth = P(0, f.mouthY);
  if (mouth.depth > 0.1) {
    const a = P(-f.mouthHalfWidth, f.mouthY).at, b = P(f.mouthHalfWidth, f.mouthY).at;
    const s = ellipse(mouth.at, Math.max(0.7, Math.hypot(b[0] - a[0], b[1] - a[1]) / 2), Math.max(0.6, f.mouthHalfHeight * r), Math.atan2(b[1] - a[1], b[0] - a[0]));
    canvas.draw(s.sdf, s.bounds, face.lips);
  }
}

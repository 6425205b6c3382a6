// The synthetic figure of one frame, drawn from OpenPose-18 keypoints (pixels): the identity's proportions
// applied to the skeleton, then limbs as tapered capsules, the torso as a rounded polygon, clothes with their
// pattern in the part's own frame (so stripes move with the body), and the head of head.ts; parts are drawn
// back to front in an order chosen from how the body faces the camera.

import type { Keypoint } from '../../pose/keypoints.ts';
import { VISIBLE_THRESHOLD } from '../../pose/keypoints.ts';
import type { HeadPose } from './head.ts';
import { drawHairBehind, drawHead } from './head.ts';
import type { Identity } from './identity.ts';
import type { Canvas, Colour, Paint, Shape, Vec2 } from './shapes.ts';
import { capsule, disc, ellipse, polygon } from './shapes.ts';

const NECK = 1, R_SHO = 2, R_ELB = 3, R_WRI = 4, L_SHO = 5, L_ELB = 6, L_WRI = 7;
const R_HIP = 8, R_KNE = 9, R_ANK = 10, L_HIP = 11, L_KNE = 12, L_ANK = 13;

const visible = (k: Keypoint | undefined): k is Keypoint => k !== undefined && k[2] >= VISIBLE_THRESHOLD;
const xy = (k: Keypoint): Vec2 => [k[0], k[1]];
const dist = (a: Vec2, b: Vec2) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/**
 * The identity's skeleton: each segment scaled about its parent joint (shoulders about the neck, elbows and
 * wrists by the arm factor, knees and ankles by the leg factor). Missing points stay missing.
 */
export function applyProportions(body: readonly Keypoint[], id: Identity): Keypoint[] {
  const out = body.map((k): Keypoint => [k[0], k[1], k[2]]);
  const chain = (parent: number, child: number, k: number, original: readonly Keypoint[]) => {
    if (!visible(original[parent]) || !visible(original[child])) return;
    out[child] = [out[parent]![0] + (original[child]![0] - original[parent]![0]) * k, out[parent]![1] + (original[child]![1] - original[parent]![1]) * k, original[child]![2]];
  };
  const b = id.body;
  for (const [sho, elb, wri] of [[R_SHO, R_ELB, R_WRI], [L_SHO, L_ELB, L_WRI]] as const) {
    chain(NECK, sho, b.shoulderWidth, body);
    chain(sho, elb, b.armLength, body);
    chain(elb, wri, b.armLength, body);
  }
  for (const [hip, kne, ank] of [[R_HIP, R_KNE, R_ANK], [L_HIP, L_KNE, L_ANK]] as const) {
    chain(hip, kne, b.legLength, body);
    chain(kne, ank, b.legLength, body);
  }
  return out;
}

/** Clip-level sizes (pixels): the median torso length (neck to mid-hip) and the widest shoulder span. */
export interface ClipScale { torso: number; shoulders: number }

export function clipScale(frames: readonly (readonly Keypoint[])[]): ClipScale {
  const torsos: number[] = [];
  let shoulders = 0;
  for (const b of frames) {
    if (visible(b[NECK]) && visible(b[R_HIP]) && visible(b[L_HIP])) {
      torsos.push(dist(xy(b[NECK]), [(b[R_HIP][0] + b[L_HIP][0]) / 2, (b[R_HIP][1] + b[L_HIP][1]) / 2]));
    }
    if (visible(b[R_SHO]) && visible(b[L_SHO])) shoulders = Math.max(shoulders, dist(xy(b[R_SHO]), xy(b[L_SHO])));
  }
  torsos.sort((a, c) => a - c);
  const torso = torsos.length > 0 ? torsos[Math.floor(torsos.length / 2)]! : 1.5 * shoulders;
  if (!(torso > 0)) throw new Error('synth clipScale: no frame of the clip has a neck and hips or two shoulders');
  return { torso, shoulders: shoulders || torso / 1.5 };
}

/** The drawn head's radius for an identity in a clip. */
export function headRadius(scale: ClipScale, id: Identity): number {
  return id.body.headRadius * scale.torso;
}

const mix = (a: Colour, b: Colour, t: number): Colour => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];

/**
 * Cloth paint: the base colour with the identity's pattern laid out in the part's frame (origin, axis),
 * anti-aliased through the pattern's own distance to its edges, and shaded towards the part's edge.
 */
function clothPaint(id: Identity, origin: Vec2, axis: Vec2, period: number, radius: number): Paint {
  const { top, pattern, patternColour } = id.clothes;
  const w = (2 * Math.PI) / period;
  const ramp = period / (2 * Math.PI);
  return (x, y, d) => {
    const u = (x - origin[0]) * axis[0] + (y - origin[1]) * axis[1];
    const v = -(x - origin[0]) * axis[1] + (y - origin[1]) * axis[0];
    let c = top;
    if (pattern !== 'plain') {
      const g = pattern === 'stripes' ? Math.sin(w * u) : Math.sin(w * u) * Math.sin(w * v);
      c = mix(top, patternColour, Math.min(1, Math.max(0, 0.5 + g * ramp)));
    }
    const k = 1 - 0.28 * Math.min(1, Math.max(0, 1 + d / Math.max(radius, 1e-3))) ** 2;
    return [c[0] * k, c[1] * k, c[2] * k];
  };
}

function solidPaint(colour: Colour, radius: number): Paint {
  return (_x, _y, d) => {
    const k = 1 - 0.28 * Math.min(1, Math.max(0, 1 + d / Math.max(radius, 1e-3))) ** 2;
    return [colour[0] * k, colour[1] * k, colour[2] * k];
  };
}

const unit = (a: Vec2, b: Vec2): Vec2 => {
  const l = dist(a, b);
  return l > 1e-9 ? [(b[0] - a[0]) / l, (b[1] - a[1]) / l] : [0, 1];
};

/**
 * Fills in points the drawing needs but the frame lacks (half-body DWPose clips have no legs): hips below
 * the shoulders, knees and ankles straight down; they fall below the frame in those clips.
 */
function completed(body: readonly Keypoint[], scale: ClipScale): Vec2[] {
  const p = body.map(xy);
  const neck = p[NECK]!;
  let down: Vec2 = [0, 1];
  if (visible(body[R_HIP]) && visible(body[L_HIP])) down = unit(neck, [(p[R_HIP]![0] + p[L_HIP]![0]) / 2, (p[R_HIP]![1] + p[L_HIP]![1]) / 2]);
  const along = (from: Vec2, k: number): Vec2 => [from[0] + down[0] * k * scale.torso, from[1] + down[1] * k * scale.torso];
  for (const [sho, hip] of [[R_SHO, R_HIP], [L_SHO, L_HIP]] as const) {
    if (!visible(body[hip])) p[hip] = visible(body[sho]) ? along(p[sho]!, 1) : along(neck, 1);
  }
  for (const [hip, kne, ank] of [[R_HIP, R_KNE, R_ANK], [L_HIP, L_KNE, L_ANK]] as const) {
    if (!visible(body[kne])) p[kne] = along(p[hip]!, 0.95);
    if (!visible(body[ank])) p[ank] = along(p[kne]!, 0.95);
  }
  return p;
}

type Side = 'right' | 'left';

/** Draws background-to-front: the figure of one frame on `canvas` (the background is already there). */
export function drawFigure(canvas: Canvas, body: readonly Keypoint[], head: HeadPose, id: Identity, scale: ClipScale): void {
  if (!visible(body[NECK])) return; // no body to hang the figure on: leave the frame empty
  const p = completed(body, scale);
  const limb = id.body.limbRadius * scale.torso;
  const period = id.clothes.patternPeriod * scale.torso;
  const draw = (s: Shape, paint: Paint | Colour) => canvas.draw(s.sdf, s.bounds, paint);

  // How the body faces: the shoulders' order across the image (left shoulder on the image's right = facing the
  // camera) and their span against the clip's widest (small = seen from the side).
  const span = visible(body[R_SHO]) && visible(body[L_SHO]) ? (p[L_SHO]![0] - p[R_SHO]![0]) / scale.shoulders : 1;
  const back = span < -0.45;
  const sideView = Math.abs(span) < 0.45;
  // Turned towards the image's right: the person's right side is the near one (front or back alike).
  const near: Side = Math.sin(head.yaw) >= 0 ? 'right' : 'left';
  const far: Side = near === 'right' ? 'left' : 'right';

  const arm = (side: Side) => {
    const [sho, elb, wri] = side === 'right' ? [R_SHO, R_ELB, R_WRI] : [L_SHO, L_ELB, L_WRI];
    if (!visible(body[sho]) || !visible(body[elb])) return; // an arm needs a shoulder and an elbow
    const a = p[sho]!, b = p[elb]!;
    draw(capsule(a, b, limb, 0.9 * limb), clothPaint(id, a, unit(a, b), period, limb));
    if (!visible(body[wri])) return;
    const c = p[wri]!;
    const forearm = capsule(b, c, 0.9 * limb, 0.75 * limb);
    draw(forearm, id.clothes.longSleeves ? clothPaint(id, a, unit(b, c), period, limb) : solidPaint(id.skin, limb));
    const dir = unit(b, c);
    draw(disc([c[0] + dir[0] * 0.5 * limb, c[1] + dir[1] * 0.5 * limb], 0.95 * limb), solidPaint(id.skin, limb));
  };
  const leg = (side: Side) => {
    const [hip, kne, ank] = side === 'right' ? [R_HIP, R_KNE, R_ANK] : [L_HIP, L_KNE, L_ANK];
    const a = p[hip]!, b = p[kne]!, c = p[ank]!;
    const bottom = id.clothes.bottom;
    draw(capsule(a, b, 1.3 * limb, 1.1 * limb), solidPaint(bottom, 1.3 * limb));
    draw(capsule(b, c, 1.1 * limb, 0.9 * limb), solidPaint(id.clothes.shorts ? id.skin : bottom, limb));
    if (id.clothes.shorts) draw(capsule(b, [b[0] + (c[0] - b[0]) * 0.05, b[1] + (c[1] - b[1]) * 0.05], 1.15 * limb), solidPaint(bottom, limb));
    const toes = Math.sin(head.yaw) * (sideView ? 1.4 : 0.6) * limb;
    draw(ellipse([c[0] + toes, c[1] + 0.5 * limb], 1.25 * limb, 0.7 * limb), solidPaint(id.clothes.shoes, limb));
  };
  const torso = () => {
    const mid: Vec2 = [(p[R_HIP]![0] + p[L_HIP]![0]) / 2, (p[R_HIP]![1] + p[L_HIP]![1]) / 2];
    const w = id.body.torsoWidth;
    const hipAt = (h: Vec2): Vec2 => [mid[0] + (h[0] - mid[0]) * w, mid[1] + (h[1] - mid[1]) * w];
    const rs = visible(body[R_SHO]) ? p[R_SHO]! : p[NECK]!, ls = visible(body[L_SHO]) ? p[L_SHO]! : p[NECK]!;
    const pts: Vec2[] = [rs, ls, hipAt(p[L_HIP]!), hipAt(p[R_HIP]!)];
    // A thin side view still needs a body: widen the polygon across the spine to at least 0.6 torso widths.
    const axis = unit(p[NECK]!, mid);
    const across: Vec2 = [-axis[1], axis[0]];
    const halfMin = 0.22 * scale.torso * w;
    const widened = pts.map((q, i): Vec2 => {
      const ref = i < 2 ? p[NECK]! : mid;
      const o = (q[0] - ref[0]) * across[0] + (q[1] - ref[1]) * across[1];
      const sign = i === 0 || i === 3 ? -1 : 1;
      const want = Math.abs(o) < halfMin ? sign * halfMin * Math.sign(span || 1) : o;
      return [q[0] + across[0] * (want - o), q[1] + across[1] * (want - o)];
    });
    draw(polygon(widened, limb), clothPaint(id, p[NECK]!, axis, period, 0.5 * scale.torso));
  };
  const neck = () => {
    const c = head.centre;
    const a = p[NECK]!;
    draw(capsule(a, [a[0] + (c[0] - a[0]) * 0.6, a[1] + (c[1] - a[1]) * 0.6], 0.42 * head.radius), solidPaint(id.skin, 0.42 * head.radius));
  };

  if (!back) drawHairBehind(canvas, head, id);
  if (back) {
    arm('right'); arm('left'); leg('right'); leg('left'); torso();
  } else if (sideView) {
    arm(far); leg(far); leg(near); torso(); arm(near);
  } else {
    leg('right'); leg('left'); torso(); arm('right'); arm('left');
  }
  neck();
  if (back) drawHairBehind(canvas, head, id);
  drawHead(canvas, head, id);
}

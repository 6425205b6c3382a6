// Keypoint sequences for training and evaluating pose alignment, from two real sources:
//   - BVH motion capture, posed by forward kinematics, mapped to OpenPose-18 and projected through a seeded
//     random perspective camera into normalised 2D keypoints;
//   - DWPose dumps of real videos (read by keypoint-json.ts).
// and the (reference, driven) samples drawn from them, where the driven poses get a random similarity
// (rotation, scale, translation about the frame centre: the MisAlign perturbation) and the unperturbed poses
// are kept as ground truth.
//
// OpenPose-18 from a BVH skeleton, per family (detected from the joint names):
//   family   shoulder / elbow / wrist              hip / knee / ankle              head
//   'cmu'    {Left,Right}Shoulder, Elbow, Wrist    {Left,Right}Hip, Knee, Ankle    Head (+ End Site)
//            (CMU 131_*, AnimatedDrawings' jumping_jacks: 31 joints, Y up)
//   'mixamo' {Left,Right}Arm, ForeArm, Hand        {Left,Right}UpLeg, Leg, Foot    Head (+ End Site)
//            (AnimatedDrawings ad_*: 27 joints, Z up; its {Left,Right}Shoulder are the clavicles)
// For both: neck = midpoint of the shoulders (as DWPose defines it). Nose, eyes and ears are synthesised in
// the head's frame: forward = the head's rotation applied to the body's rest-pose facing (left hip -> right hip
// crossed with up), up = towards the head's End Site; head size s = 0.55 x the rest-pose shoulder width, head
// centre half a head below the End Site. Offsets in units of s (forward, up, sideways):
//   nose (0.48, -0.12, 0), eyes (0.40, 0.02, ±0.14), ears (-0.05, 0, ±0.33).
// Nose and eyes get score 0 when the face turns away from the camera, an ear when its side does. The up axis
// is found from the motion (root -> head over its frames), so Y-up and Z-up files need no flag, and neither
// do exporters whose zero-rotation rest pose lies down (bone offsets along X) while the motion stands: the
// rest pose then gives only the head's own up and the body's proportions, the facing comes from frame 0.

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { applySimilarity, similarityAboutCentre } from './similarity.ts';
import type { FrameSize, Similarity } from './similarity.ts';
import type { Rng } from '../util/rng.ts';
import { createRng } from '../util/rng.ts';
import { findJoint, forwardKinematics, readBvh } from './bvh.ts';
import type { Bvh, BvhPose, Vec3 } from './bvh.ts';
import { readPoseFile } from './keypoint-json.ts';
import { NUM_FACE, NUM_HAND, VISIBLE_THRESHOLD } from './keypoints.ts';
import type { Keypoint, PersonPose, PoseSequence } from './keypoints.ts';

// ---------------------------------------------------------------------------------------------------------------
// Small vector helpers

const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const scale3 = (a: Vec3, k: number): Vec3 => [a[0] * k, a[1] * k, a[2] * k];
const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
const unit = (a: Vec3): Vec3 => {
  const n = norm(a);
  if (!(n > 0)) throw new Error('motion-data: cannot normalise a zero vector');
  return scale3(a, 1 / n);
};
const rotate = (m: ArrayLike<number>, v: Vec3): Vec3 => [
  m[0]! * v[0] + m[1]! * v[1] + m[2]! * v[2],
  m[3]! * v[0] + m[4]! * v[1] + m[5]! * v[2],
  m[6]! * v[0] + m[7]! * v[1] + m[8]! * v[2],
];
const jointPos = (pose: BvhPose, j: number): Vec3 => [pose.positions[3 * j]!, pose.positions[3 * j + 1]!, pose.positions[3 * j + 2]!];
const mid = (a: Vec3, b: Vec3): Vec3 => scale3(add(a, b), 0.5);

// ---------------------------------------------------------------------------------------------------------------
// Skeleton mapping

export type SkeletonFamily = 'cmu' | 'mixamo';

/** BVH joint names for the OpenPose limbs, per family; [right, left]. */
const FAMILY_JOINTS: Record<SkeletonFamily, Record<'shoulder' | 'elbow' | 'wrist' | 'hip' | 'knee' | 'ankle', [string, string]>> = {
  cmu: {
    shoulder: ['RightShoulder', 'LeftShoulder'], elbow: ['RightElbow', 'LeftElbow'], wrist: ['RightWrist', 'LeftWrist'],
    hip: ['RightHip', 'LeftHip'], knee: ['RightKnee', 'LeftKnee'], ankle: ['RightAnkle', 'LeftAnkle'],
  },
  mixamo: {
    shoulder: ['RightArm', 'LeftArm'], elbow: ['RightForeArm', 'LeftForeArm'], wrist: ['RightHand', 'LeftHand'],
    hip: ['RightUpLeg', 'LeftUpLeg'], knee: ['RightLeg', 'LeftLeg'], ankle: ['RightFoot', 'LeftFoot'],
  },
};

export interface SkeletonMapping {
  family: SkeletonFamily;
  /** Joint indices: [right, left] for each limb joint, and the head. */
  shoulder: [number, number];
  elbow: [number, number];
  wrist: [number, number];
  hip: [number, number];
  knee: [number, number];
  ankle: [number, number];
  head: number;
  /** World up (an axis, from the motion's frames) and the facing direction in rest-pose coordinates. */
  up: Vec3;
  restForward: Vec3;
  /** Up in rest-pose coordinates (root -> head of the rest pose, an axis): equal to `up` for upright rest poses. */
  restUp: Vec3;
  /** Head size s used for the face points, in BVH units. */
  headSize: number;
  /** Rest-pose height from the ankles to the head's End Site, in BVH units. */
  height: number;
}

export function detectSkeletonFamily(bvh: Bvh): SkeletonFamily {
  const names = new Set(bvh.joints.map((j) => j.name));
  for (const family of ['mixamo', 'cmu'] as const) {
    const table = FAMILY_JOINTS[family];
    if (Object.values(table).every(([r, l]) => names.has(r) && names.has(l)) && names.has('Head')) return family;
  }
  throw new Error(`${bvh.source}: unknown BVH skeleton: expected CMU names (LeftShoulder/LeftElbow/LeftHip/LeftKnee...) or Mixamo names (LeftArm/LeftForeArm/LeftUpLeg/LeftLeg...) and a Head joint; found ${[...names].join(', ')}`);
}

function headTop(bvh: Bvh, pose: BvhPose, head: number, up: Vec3, headSize: number): Vec3 {
  if (bvh.joints[head]!.endSite) return [pose.endSites[3 * head]!, pose.endSites[3 * head + 1]!, pose.endSites[3 * head + 2]!];
  return add(jointPos(pose, head), scale3(up, headSize));
}

/** The coordinate axis (signed unit vector) closest to v; undefined for a zero vector. */
function nearestAxis(v: Vec3): Vec3 | undefined {
  const axis = [0, 1, 2].reduce((best, i) => (Math.abs(v[i]!) > Math.abs(v[best]!) ? i : best), 0);
  if (!(Math.abs(v[axis]!) > 0)) return undefined;
  const a: Vec3 = [0, 0, 0];
  a[axis] = Math.sign(v[axis]!);
  return a;
}

/** Rotation by the transpose of a row-major 3x3 (the inverse of a rotation). */
const rotateT = (m: ArrayLike<number>, v: Vec3): Vec3 => [
  m[0]! * v[0] + m[3]! * v[1] + m[6]! * v[2],
  m[1]! * v[0] + m[4]! * v[1] + m[7]! * v[2],
  m[2]! * v[0] + m[5]! * v[1] + m[8]! * v[2],
];

export function skeletonMapping(bvh: Bvh): SkeletonMapping {
  const family = detectSkeletonFamily(bvh);
  const table = FAMILY_JOINTS[family];
  const pair = (k: keyof typeof table): [number, number] => [findJoint(bvh, table[k][0]), findJoint(bvh, table[k][1])];
  const head = findJoint(bvh, 'Head');
  const hip = pair('hip');
  const fail = (what: string, joints: string[]): never => {
    throw new Error(`${bvh.source}: ${what} (joints ${joints.join(', ')}); cannot tell which way the figure is up or facing`);
  };
  const rest = forwardKinematics(bvh, -1);
  const restUp = nearestAxis(sub(jointPos(rest, head), jointPos(rest, 0))) ?? fail('the rest pose has its Head at the root', [bvh.joints[0]!.name, 'Head']);
  // world up: root -> head summed over up to 16 frames spread over the motion
  const sampled = bvh.frameCount > 0 ? Array.from({ length: Math.min(16, bvh.frameCount) }, (_, k) => Math.floor((k * bvh.frameCount) / Math.min(16, bvh.frameCount))) : [];
  const toHead = sampled.map((f) => { const p = forwardKinematics(bvh, f); return sub(jointPos(p, head), jointPos(p, 0)); });
  const up = toHead.length ? nearestAxis(toHead.reduce((a, b) => add(a, b), [0, 0, 0] as Vec3)) ?? restUp : restUp;
  let restForward: Vec3;
  const leftRest = sub(jointPos(rest, hip[1]), jointPos(rest, hip[0]));
  const restFacing = cross(leftRest, restUp);
  if (up.join() === restUp.join() && norm(restFacing) > 1e-6 * norm(leftRest)) {
    restForward = unit(restFacing);
  } else {
    // the facing of frame 0, in rest-pose coordinates of the head (openPose3d turns it by the head's rotation)
    if (bvh.frameCount === 0) fail('the rest pose lies down and there is no frame to take the facing from', [table.hip[0], table.hip[1]]);
    const p0 = forwardKinematics(bvh, 0);
    const left0 = sub(jointPos(p0, hip[1]), jointPos(p0, hip[0]));
    const facing0 = cross(sub(left0, scale3(up, dot(left0, up))), up);
    if (!(norm(facing0) > 1e-6 * norm(left0))) fail('the hips of frame 0 lie along the up axis', [table.hip[0], table.hip[1]]);
    restForward = unit(rotateT(p0.rotations.subarray(head * 9, head * 9 + 9), unit(facing0)));
  }
  const shoulder = pair('shoulder');
  const shoulderWidth = norm(sub(jointPos(rest, shoulder[1]), jointPos(rest, shoulder[0])));
  if (!(shoulderWidth > 0)) fail('the shoulders coincide in the rest pose', [table.shoulder[0], table.shoulder[1]]);
  const headSize = 0.55 * shoulderWidth;
  const ankle = pair('ankle');
  const top = headTop(bvh, rest, head, restUp, headSize);
  const height = dot(sub(top, mid(jointPos(rest, ankle[0]), jointPos(rest, ankle[1]))), restUp);
  return { family, shoulder, elbow: pair('elbow'), wrist: pair('wrist'), hip, knee: pair('knee'), ankle, head, up, restForward, restUp, headSize, height };
}

/** 3D OpenPose-18 points of one posed frame, plus the head's frame for visibility. */
export interface OpenPose3d {
  points: Vec3[];
  headCentre: Vec3;
  headForward: Vec3;
  headLeft: Vec3;
}

export function openPose3d(bvh: Bvh, mapping: SkeletonMapping, pose: BvhPose): OpenPose3d {
  const p = (j: number): Vec3 => jointPos(pose, j);
  const m = mapping;
  const hr = m.head * 9;
  const headRot = pose.rotations.subarray(hr, hr + 9);
  const top = headTop(bvh, pose, m.head, rotate(headRot, m.restUp), m.headSize);
  let headUp = bvh.joints[m.head]!.endSite ? unit(sub(top, p(m.head))) : rotate(headRot, m.restUp);
  const forward0 = rotate(headRot, m.restForward);
  const headLeft = unit(cross(headUp, forward0));
  const headForward = cross(headLeft, headUp);
  headUp = cross(headForward, headLeft);
  const s = m.headSize;
  const centre = sub(top, scale3(headUp, 0.5 * s));
  const face = (f: number, u: number, l: number): Vec3 =>
    add(centre, add(scale3(headForward, f * s), add(scale3(headUp, u * s), scale3(headLeft, l * s))));
  const [rSho, lSho] = [p(m.shoulder[0]), p(m.shoulder[1])];
  const points: Vec3[] = [
    face(0.48, -0.12, 0), mid(rSho, lSho), rSho, p(m.elbow[0]), p(m.wrist[0]), lSho, p(m.elbow[1]), p(m.wrist[1]),
    p(m.hip[0]), p(m.knee[0]), p(m.ankle[0]), p(m.hip[1]), p(m.knee[1]), p(m.ankle[1]),
    face(0.40, 0.02, -0.14), face(0.40, 0.02, 0.14), face(-0.05, 0, -0.33), face(-0.05, 0, 0.33),
  ];
  return { points, headCentre: centre, headForward, headLeft };
}

// ---------------------------------------------------------------------------------------------------------------
// Projection

export interface ProjectionOptions {
  /** Frame size [W, H] in pixels; default [576, 1024]. */
  size?: FrameSize;
  /** Keep about this many frames per second (a stride over the capture rate); default 30. */
  fps?: number;
  /** Camera yaw around the body, degrees from facing the camera: uniform in [-v, v]; default 45. */
  maxYawDeg?: number;
  /** Camera elevation, degrees: uniform in [-v, v]; default 10. */
  maxPitchDeg?: number;
  /** Camera distance in body heights: uniform in this range; default [2.5, 6]. */
  distance?: [number, number];
  /** Person height as a fraction of the frame height: uniform in this range; default [0.45, 0.85]. */
  heightFraction?: [number, number];
  /** All keypoints of the sequence stay this far inside the frame (fraction of W and H); default 0.03. */
  margin?: number;
}

export interface ProjectedCamera {
  yawDeg: number;
  pitchDeg: number;
  distance: number;
  family: SkeletonFamily;
  stride: number;
}

const emptyPoints = (n: number): Keypoint[] => Array.from({ length: n }, (): Keypoint => [0, 0, 0]);

/**
 * Poses every kept frame, maps it to OpenPose-18 and projects it through one random camera for the whole
 * sequence, then scales and places the result at random in the frame (the whole sequence stays inside).
 */
export function projectBvh(bvh: Bvh, rng: Rng, options: ProjectionOptions = {}): { sequence: PoseSequence; camera: ProjectedCamera } {
  const size = options.size ?? [576, 1024];
  const [W, H] = size;
  const captureFps = 1 / bvh.frameTime;
  const stride = Math.max(1, Math.round(captureFps / (options.fps ?? 30)));
  const mapping = skeletonMapping(bvh);
  const frames: OpenPose3d[] = [];
  for (let f = 0; f < bvh.frameCount; f += stride) frames.push(openPose3d(bvh, mapping, forwardKinematics(bvh, f)));
  if (frames.length === 0) throw new Error('projectBvh: the BVH has no frames');

  // Camera on a sphere around the trajectory's centre, yawed from the direction the body faces in frame 0.
  const up = mapping.up;
  const first = frames[0]!.points;
  const left0 = sub(first[11]!, first[8]!);
  const facing = unit(cross(sub(left0, scale3(up, dot(left0, up))), up));
  const side = cross(up, facing);
  const roots = frames.map((fr) => mid(fr.points[8]!, fr.points[11]!));
  const target = scale3(roots.reduce((a, b) => add(a, b), [0, 0, 0] as Vec3), 1 / roots.length);
  const spread = Math.max(...roots.map((r) => norm(sub(r, target))));
  const maxYaw = options.maxYawDeg ?? 45;
  const maxPitch = options.maxPitchDeg ?? 10;
  const yawDeg = rng.uniform(-maxYaw, maxYaw);
  const pitchDeg = rng.uniform(-maxPitch, maxPitch);
  const [dLo, dHi] = options.distance ?? [2.5, 6];
  const distance = Math.max(rng.uniform(dLo, dHi) * mapping.height, 2 * (spread + mapping.height));
  const yaw = (yawDeg * Math.PI) / 180;
  const pitch = (pitchDeg * Math.PI) / 180;
  const horizontal = add(scale3(facing, Math.cos(yaw)), scale3(side, Math.sin(yaw)));
  const eye = add(target, scale3(add(scale3(horizontal, Math.cos(pitch)), scale3(up, Math.sin(pitch))), distance));
  const fwd = unit(sub(target, eye));
  const right = unit(cross(fwd, up));
  const camUp = cross(right, fwd);

  // Perspective onto the image plane at unit focal length (y down), then visibility of the face points.
  const projected = frames.map((fr) => {
    const toCam = unit(sub(eye, fr.headCentre));
    const facingCam = dot(fr.headForward, toCam);
    const sideCam = dot(fr.headLeft, toCam);
    return fr.points.map((pt, i): Keypoint => {
      const rel = sub(pt, eye);
      const depth = dot(rel, fwd);
      if (!(depth > 1e-3 * distance)) throw new Error('projectBvh: a keypoint is behind the camera');
      let score = 1;
      if ((i === 0 || i === 14 || i === 15) && facingCam < -0.15) score = 0;
      if (i === 16 && -sideCam < -0.7) score = 0; // right ear: the side opposite headLeft
      if (i === 17 && sideCam < -0.7) score = 0;
      return [dot(rel, right) / depth, -dot(rel, camUp) / depth, score];
    });
  });

  // Scale so the person's typical height is the drawn fraction of H, shrink if the sequence would not fit,
  // then place the sequence's bounding box at random inside the margins.
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  const heights: number[] = [];
  for (const pts of projected) {
    let lo = Infinity, hi = -Infinity;
    for (const [x, y] of pts) {
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      lo = Math.min(lo, y); hi = Math.max(hi, y);
    }
    heights.push(hi - lo);
  }
  heights.sort((a, b) => a - b);
  const typical = heights[Math.floor(heights.length / 2)]!;
  const margin = options.margin ?? 0.03;
  const [fLo, fHi] = options.heightFraction ?? [0.45, 0.85];
  let k = (rng.uniform(fLo, fHi) * H) / typical;
  k = Math.min(k, ((1 - 2 * margin) * W) / (maxX - minX), ((1 - 2 * margin) * H) / (maxY - minY));
  const ox = rng.uniform(margin * W, (1 - margin) * W - k * (maxX - minX)) - k * minX;
  const oy = rng.uniform(margin * H, (1 - margin) * H - k * (maxY - minY)) - k * minY;

  const sequence: PoseSequence = {
    size: [W, H],
    fps: captureFps / stride,
    frames: projected.map((pts) => ({
      persons: [{
        body: pts.map(([x, y, s]): Keypoint => [(k * x + ox) / W, (k * y + oy) / H, s]),
        hands: [emptyPoints(NUM_HAND), emptyPoints(NUM_HAND)],
        face: emptyPoints(NUM_FACE),
      }],
    })),
  };
  return { sequence, camera: { yawDeg, pitchDeg, distance, family: mapping.family, stride } };
}

// ---------------------------------------------------------------------------------------------------------------
// Loading both sources

export interface NamedSequence {
  name: string;
  source: 'bvh' | 'dwpose';
  sequence: PoseSequence;
}

export interface LoadMotionOptions {
  bvhDir?: string;
  dwposeDir?: string;
  /** Seed of the BVH cameras; each file gets its own stream, so adding files does not move the others. */
  seed?: number;
  projection?: ProjectionOptions;
}

function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Reads every .bvh (projected) and .json (DWPose or ours) file of the given folders, sorted by name. */
export async function loadMotionSequences(options: LoadMotionOptions): Promise<NamedSequence[]> {
  const out: NamedSequence[] = [];
  const seed = options.seed ?? 0;
  if (options.bvhDir !== undefined) {
    for (const file of (await readdir(options.bvhDir)).filter((f) => f.endsWith('.bvh')).sort()) {
      const bvh = await readBvh(join(options.bvhDir, file));
      const rng = createRng((seed ^ hashName(file)) >>> 0);
      out.push({ name: file.replace(/\.bvh$/, ''), source: 'bvh', sequence: projectBvh(bvh, rng, options.projection).sequence });
    }
  }
  if (options.dwposeDir !== undefined) {
    for (const file of (await readdir(options.dwposeDir)).filter((f) => /\.(json|npy)$/.test(f)).sort()) {
      out.push({ name: file.replace(/\.(json|npy)$/, ''), source: 'dwpose', sequence: await readPoseFile(join(options.dwposeDir, file)) });
    }
  }
  return out;
}

/**
 * Splits by whole sequence (never frames of one sequence on both sides), per source so that each source is
 * represented in validation: a seeded shuffle, then ceil(valFraction·n) of each source to validation.
 */
export function splitBySequence<T extends { name: string; source?: string }>(
  sequences: readonly T[], options: { valFraction?: number; seed?: number; valNames?: readonly string[] } = {},
): { train: T[]; val: T[] } {
  if (options.valNames !== undefined) {
    const names = new Set(options.valNames);
    for (const n of names) if (!sequences.some((s) => s.name === n)) throw new Error(`splitBySequence: no sequence named "${n}"`);
    return { train: sequences.filter((s) => !names.has(s.name)), val: sequences.filter((s) => names.has(s.name)) };
  }
  const fraction = options.valFraction ?? 0.25;
  const rng = createRng(options.seed ?? 0);
  const valNames = new Set<string>();
  const sources = [...new Set(sequences.map((s) => s.source ?? ''))].sort();
  for (const source of sources) {
    const group = sequences.filter((s) => (s.source ?? '') === source).map((s) => s.name).sort();
    const shuffled = rng.shuffle(group);
    const count = Math.min(group.length - (group.length > 1 ? 1 : 0), Math.ceil(fraction * group.length));
    for (const n of shuffled.slice(0, count)) valNames.add(n);
  }
  return { train: sequences.filter((s) => !valNames.has(s.name)), val: sequences.filter((s) => valNames.has(s.name)) };
}

// ---------------------------------------------------------------------------------------------------------------
// Perturbation and samples

export interface PerturbationRanges {
  /** Rotation uniform in [-v, v] degrees; default 30. */
  maxRotationDeg: number;
  /** Scale log-uniform in [lo, hi]; default [0.5, 2]. */
  scale: [number, number];
  /** Translation uniform in [-v, v] of the frame width and height; default 0.25. */
  maxShift: number;
}

export const DEFAULT_PERTURBATION: PerturbationRanges = { maxRotationDeg: 30, scale: [0.5, 2], maxShift: 0.25 };

export interface Perturbation {
  rotationDeg: number;
  scale: number;
  shift: [number, number];
  /** The map from unperturbed to perturbed keypoints (same frame). */
  similarity: Similarity;
}

export function samplePerturbation(rng: Rng, size: FrameSize, ranges: Partial<PerturbationRanges> = {}): Perturbation {
  const r = { ...DEFAULT_PERTURBATION, ...ranges };
  const rotationDeg = rng.uniform(-r.maxRotationDeg, r.maxRotationDeg);
  const scale = rng.logUniform(r.scale[0], r.scale[1]);
  const shift: [number, number] = [rng.uniform(-r.maxShift, r.maxShift), rng.uniform(-r.maxShift, r.maxShift)];
  return { rotationDeg, scale, shift, similarity: similarityAboutCentre((rotationDeg * Math.PI) / 180, scale, shift, size) };
}

export function perturbPerson(person: PersonPose, perturbation: Perturbation): PersonPose {
  return applySimilarity(person, perturbation.similarity);
}

export interface AlignmentSample {
  sequence: string;
  size: [number, number];
  referenceIndex: number;
  drivenIndices: number[];
  /** The reference pose, unperturbed. */
  reference: PersonPose;
  /** The driven poses after the perturbation: the input to align. */
  driven: PersonPose[];
  /** The driven poses before the perturbation: the ground truth of alignment. */
  target: PersonPose[];
  perturbation: Perturbation;
}

export interface SampleOptions {
  samplesPerSequence?: number;
  /** Driven frames per sample (consecutive, one perturbation for all); default 1, a (reference, driven) pair. */
  clipLength?: number;
  ranges?: Partial<PerturbationRanges>;
  /** Frames whose first person has fewer visible body points are not used; default 4. */
  minVisible?: number;
  /**
   * The reference frame is drawn at most this many frames from the clip's first frame; default Infinity (anywhere
   * in the sequence). A bound keeps a subject that walks or jumps across the frame near where the clip is.
   */
  maxReferenceGap?: number;
}

/**
 * Draws samples from each sequence: a random reference frame and a random clip of driven frames of the same
 * sequence (first person of each frame), the clip perturbed by one random similarity about the frame centre.
 * Note that the ground truth keeps the subject where it was in the clip: when the subject moves far from where
 * it is in the reference frame, even a perfect pose-to-reference fit is off by that motion.
 */
export function makeAlignmentSamples(sequences: readonly NamedSequence[], rng: Rng, options: SampleOptions = {}): AlignmentSample[] {
  const perSequence = options.samplesPerSequence ?? 16;
  const clip = options.clipLength ?? 1;
  const minVisible = options.minVisible ?? 4;
  const gap = options.maxReferenceGap ?? Infinity;
  if (sequences.length === 0) throw new Error('makeAlignmentSamples: no sequences');
  const samples: AlignmentSample[] = [];
  for (const { name, sequence } of sequences) {
    const usable = sequence.frames.map((fr) => {
      const p = fr.persons[0];
      return p !== undefined && p.body.filter((k) => k[2] >= VISIBLE_THRESHOLD).length >= minVisible;
    });
    const refCandidates = usable.flatMap((ok, i) => (ok ? [i] : []));
    const clipStarts: number[] = [];
    for (let s = 0; s + clip <= usable.length; s++) if (usable.slice(s, s + clip).every(Boolean)) clipStarts.push(s);
    if (refCandidates.length === 0 || clipStarts.length === 0) {
      throw new Error(`makeAlignmentSamples: sequence "${name}" has no ${clip} consecutive frames with ${minVisible}+ visible body points`);
    }
    for (let n = 0; n < perSequence; n++) {
      const start = clipStarts[rng.int(clipStarts.length)]!;
      const near = refCandidates.filter((i) => Math.abs(i - start) <= gap); // holds `start` at least
      const referenceIndex = near[rng.int(near.length)]!;
      const drivenIndices = Array.from({ length: clip }, (_, i) => start + i);
      const perturbation = samplePerturbation(rng, sequence.size, options.ranges);
      const target = drivenIndices.map((i) => sequence.frames[i]!.persons[0]!);
      samples.push({
        sequence: name,
        size: [sequence.size[0], sequence.size[1]],
        referenceIndex,
        drivenIndices,
        reference: sequence.frames[referenceIndex]!.persons[0]!,
        driven: target.map((p) => perturbPerson(p, perturbation)),
        target,
        perturbation,
      });
    }
  }
  return samples;
}


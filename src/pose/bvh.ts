// BVH motion capture: parsing and forward kinematics.
//
// A joint's local transform is T(OFFSET + position channels) · R, where R is the product of its rotation
// channels in the order the file declares them (degrees): "Zrotation Yrotation Xrotation" is Rz·Ry·Rx acting on
// column vectors. A joint's world position is parentRotation·(local translation) + parentPosition; an End Site
// is a point at OFFSET in its joint's frame. Units and up axis are whatever the file uses.

import { readFile } from 'node:fs/promises';

export type Vec3 = [number, number, number];

export type BvhChannel = 'Xposition' | 'Yposition' | 'Zposition' | 'Xrotation' | 'Yrotation' | 'Zrotation';
const CHANNELS: readonly string[] = ['Xposition', 'Yposition', 'Zposition', 'Xrotation', 'Yrotation', 'Zrotation'];

export interface BvhJoint {
  name: string;
  /** Index of the parent joint, -1 for the root. */
  parent: number;
  children: number[];
  offset: Vec3;
  channels: BvhChannel[];
  /** Index of this joint's first channel within a frame's values. */
  channelStart: number;
  /** Offset of the End Site, for joints that have one. */
  endSite?: Vec3;
}

export interface Bvh {
  /** Joints in file order (a parent always precedes its children). */
  joints: BvhJoint[];
  channelCount: number;
  frameCount: number;
  /** Seconds per frame. */
  frameTime: number;
  /** frameCount x channelCount values, row-major. */
  motion: Float64Array;
  /** Where it was read from (for errors). */
  source: string;
}

export interface BvhPose {
  /** World position of each joint, J x 3. */
  positions: Float64Array;
  /** World rotation of each joint, J x 9, row-major. */
  rotations: Float64Array;
  /** World position of each joint's End Site, J x 3; NaN for joints without one. */
  endSites: Float64Array;
}

interface Token { text: string; line: number }

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  text.split(/\r?\n/).forEach((lineText, i) => {
    for (const t of lineText.trim().split(/\s+/)) if (t.length > 0) tokens.push({ text: t, line: i + 1 });
  });
  return tokens;
}

export function parseBvh(text: string, source = '<bvh>'): Bvh {
  const tokens = tokenize(text);
  let pos = 0;
  const fail = (detail: string, at: Token | undefined = tokens[pos]): never => {
    throw new Error(`${source}:${at ? at.line : 'end'}: ${detail}`);
  };
  const next = (): Token => tokens[pos++] ?? fail('unexpected end of file');
  const expect = (word: string): void => {
    const t = next();
    if (t.text !== word) fail(`expected "${word}", found "${t.text}"`, t);
  };
  const number = (): number => {
    const t = next();
    const v = Number(t.text);
    if (!Number.isFinite(v)) fail(`expected a number, found "${t.text}"`, t);
    return v;
  };
  const restOfLine = (line: number): string => {
    const words: string[] = [];
    while (pos < tokens.length && tokens[pos]!.line === line && tokens[pos]!.text !== '{') words.push(tokens[pos++]!.text);
    return words.join(' ');
  };

  const joints: BvhJoint[] = [];
  let channelCount = 0;

  const parseJoint = (parent: number, keywordLine: number): void => {
    const name = restOfLine(keywordLine);
    if (name.length === 0) fail('joint without a name');
    const index = joints.length;
    const joint: BvhJoint = { name, parent, children: [], offset: [0, 0, 0], channels: [], channelStart: channelCount };
    joints.push(joint);
    if (parent >= 0) joints[parent]!.children.push(index);
    expect('{');
    for (;;) {
      const t = next();
      if (t.text === '}') break;
      if (t.text === 'OFFSET') {
        joint.offset = [number(), number(), number()];
      } else if (t.text === 'CHANNELS') {
        const n = number();
        for (let i = 0; i < n; i++) {
          const c = next();
          if (!CHANNELS.includes(c.text)) fail(`unknown channel "${c.text}" in joint "${name}"`, c);
          joint.channels.push(c.text as BvhChannel);
        }
        joint.channelStart = channelCount;
        channelCount += n;
      } else if (t.text === 'JOINT') {
        parseJoint(index, t.line);
      } else if (t.text === 'End') {
        expect('Site');
        expect('{');
        expect('OFFSET');
        joint.endSite = [number(), number(), number()];
        expect('}');
      } else {
        fail(`unexpected "${t.text}" in joint "${name}"`, t);
      }
    }
  };

  expect('HIERARCHY');
  while (pos < tokens.length && tokens[pos]!.text === 'ROOT') {
    const t = next();
    parseJoint(-1, t.line);
  }
  if (joints.length === 0) fail('no ROOT joint');
  expect('MOTION');
  expect('Frames:');
  const frameCount = number();
  if (!Number.isInteger(frameCount) || frameCount < 0) fail(`bad frame count ${frameCount}`);
  expect('Frame');
  expect('Time:');
  const frameTime = number();
  const motion = new Float64Array(frameCount * channelCount);
  for (let i = 0; i < motion.length; i++) motion[i] = number();
  if (pos < tokens.length) fail(`more motion values than ${frameCount} frames x ${channelCount} channels`);
  return { joints, channelCount, frameCount, frameTime, motion, source };
}

export async function readBvh(path: string): Promise<Bvh> {
  return parseBvh(await readFile(path, 'utf8'), path);
}

export function findJoint(bvh: Bvh, name: string): number {
  return bvh.joints.findIndex((j) => j.name === name);
}

/** Row-major 3x3 rotation about one axis by `deg` degrees. */
function axisRotation(axis: 'X' | 'Y' | 'Z', deg: number): number[] {
  const a = (deg * Math.PI) / 180;
  const c = Math.cos(a);
  const s = Math.sin(a);
  if (axis === 'X') return [1, 0, 0, 0, c, -s, 0, s, c];
  if (axis === 'Y') return [c, 0, s, 0, 1, 0, -s, 0, c];
  return [c, -s, 0, s, c, 0, 0, 0, 1];
}

function mul3(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out = new Array<number>(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) out[3 * r + c] = a[3 * r]! * b[c]! + a[3 * r + 1]! * b[3 + c]! + a[3 * r + 2]! * b[6 + c]!;
  }
  return out;
}

function apply3(m: ArrayLike<number>, v: ArrayLike<number>): Vec3 {
  return [
    m[0]! * v[0]! + m[1]! * v[1]! + m[2]! * v[2]!,
    m[3]! * v[0]! + m[4]! * v[1]! + m[5]! * v[2]!,
    m[6]! * v[0]! + m[7]! * v[1]! + m[8]! * v[2]!,
  ];
}

/** Joint positions and rotations at one frame; `frame = -1` gives the rest pose (all channels zero). */
export function forwardKinematics(bvh: Bvh, frame: number): BvhPose {
  if (frame !== -1 && !(Number.isInteger(frame) && frame >= 0 && frame < bvh.frameCount)) {
    throw new Error(`forwardKinematics: frame ${frame} out of range [0, ${bvh.frameCount})`);
  }
  const n = bvh.joints.length;
  const positions = new Float64Array(n * 3);
  const rotations = new Float64Array(n * 9);
  const endSites = new Float64Array(n * 3).fill(Number.NaN);
  const base = frame * bvh.channelCount;
  bvh.joints.forEach((joint, j) => {
    const t: Vec3 = [joint.offset[0], joint.offset[1], joint.offset[2]];
    let r: number[] = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    joint.channels.forEach((ch, k) => {
      const v = frame === -1 ? 0 : bvh.motion[base + joint.channelStart + k]!;
      const axis = ch[0] as 'X' | 'Y' | 'Z';
      if (ch.endsWith('position')) t['XYZ'.indexOf(axis)] += v;
      else r = mul3(r, axisRotation(axis, v));
    });
    let world: number[] = r;
    let p: Vec3 = t;
    if (joint.parent >= 0) {
      const pr = rotations.subarray(joint.parent * 9, joint.parent * 9 + 9);
      const pp = positions.subarray(joint.parent * 3, joint.parent * 3 + 3);
      const d = apply3(pr, t);
      p = [pp[0]! + d[0], pp[1]! + d[1], pp[2]! + d[2]];
      world = mul3(pr, r);
    }
    positions.set(p, j * 3);
    rotations.set(world, j * 9);
    if (joint.endSite) {
      const e = apply3(world, joint.endSite);
      endSites.set([p[0] + e[0], p[1] + e[1], p[2] + e[2]], j * 3);
    }
  });
  return { positions, rotations, endSites };
}

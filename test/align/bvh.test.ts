import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { forwardKinematics, parseBvh, readBvh } from '../../src/pose/bvh.ts';
import type { Bvh } from '../../src/pose/bvh.ts';
import { projectBvh, skeletonMapping } from '../../src/pose/motion-data.ts';
import { createRng } from '../../src/util/rng.ts';
import { MOTION_DIR, assertNear } from './helpers.ts';

const BVH_DIR = join(MOTION_DIR, 'bvh');
const files = readdirSync(BVH_DIR).filter((f) => f.endsWith('.bvh')).sort();
const cache = new Map<string, Bvh>();
async function load(file: string): Promise<Bvh> {
  if (!cache.has(file)) cache.set(file, await readBvh(join(BVH_DIR, file)));
  return cache.get(file)!;
}

const TINY = `HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 1 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 2 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
1 2 3  90 90 0  0 0 0
0 0 0  0 0 0  0 0 90
`;

test('BVH FK applies channels in the declared order, degrees, offsets and end sites', () => {
  const bvh = parseBvh(TINY, 'tiny.bvh');
  assert.equal(bvh.joints.length, 2);
  assert.equal(bvh.channelCount, 9);
  assert.equal(bvh.frameCount, 2);
  assert.equal(bvh.frameTime, 0.04);
  // Frame 0: root at (1,2,3), R = Rz(90)·Rx(90). Rx(90)·(0,1,0) = (0,0,1); Rz(90)·(0,0,1) = (0,0,1).
  // (The other order, Rx·Rz, would give Rx(90)·(-1,0,0) = (-1,0,0).)
  const f0 = forwardKinematics(bvh, 0);
  const spine = Array.from(f0.positions.subarray(3, 6));
  [1, 2, 4].forEach((v, i) => assertNear(spine[i]!, v, 1e-12, `spine[${i}]`));
  const end = Array.from(f0.endSites.subarray(3, 6));
  [1, 2, 6].forEach((v, i) => assertNear(end[i]!, v, 1e-12, `end site[${i}]`));
  assert.ok(Number.isNaN(f0.endSites[0]!));
  // Frame 1: the spine turns 90 degrees about Z, so the end site (0,2,0) goes to (-2,0,0) from the spine.
  const f1 = forwardKinematics(bvh, 1);
  [-2, 1, 0].forEach((v, i) => assertNear(f1.endSites[3 + i]!, v, 1e-12, `frame 1 end[${i}]`));
  assert.throws(() => forwardKinematics(bvh, 2), /frame 2 out of range/);
});

test('BVH parse errors name the file and line', () => {
  assert.throws(() => parseBvh(TINY.replace('Xrotation Yrotation Zrotation', 'Xrotation Wrotation Zrotation'), 'bad.bvh'), /bad\.bvh:9: unknown channel "Wrotation"/);
  assert.throws(() => parseBvh(TINY.replace('Frames: 2', 'Frames: 3'), 'short.bvh'), /short\.bvh:end: unexpected end of file/);
  assert.throws(() => parseBvh(TINY + '7\n', 'long.bvh'), /more motion values than 2 frames x 9 channels/);
});

test('all motion files parse; bone lengths stay constant across frames', async () => {
  assert.equal(files.length, 7);
  for (const file of files) {
    const bvh = await load(file);
    assert.ok(bvh.frameCount > 100, file);
    assert.equal(bvh.motion.length, bvh.frameCount * bvh.channelCount);
    const family = skeletonMapping(bvh).family;
    assert.equal(bvh.joints.length, family === 'cmu' ? 31 : 27, file);
    assert.equal(family, file.startsWith('131_') || file === 'ad_jumping_jacks.bvh' ? 'cmu' : 'mixamo', file);
    let worst = 0;
    for (let f = 0; f < bvh.frameCount; f += 7) {
      const pose = forwardKinematics(bvh, f);
      bvh.joints.forEach((joint, j) => {
        if (joint.parent < 0 || joint.channels.some((c) => c.endsWith('position'))) return;
        const p = joint.parent;
        const len = Math.hypot(...[0, 1, 2].map((k) => pose.positions[3 * j + k]! - pose.positions[3 * p + k]!));
        const rest = Math.hypot(...joint.offset);
        worst = Math.max(worst, Math.abs(len - rest));
      });
    }
    assert.ok(worst < 1e-9, `${file}: bone length drift ${worst}`);
  }
});

test('skeleton mapping finds the up axis (Y for CMU, Z for AnimatedDrawings) and a facing direction', async () => {
  for (const file of files) {
    const m = skeletonMapping(await load(file));
    const expectUp = m.family === 'cmu' ? [0, 1, 0] : [0, 0, 1];
    assert.deepEqual(m.up, expectUp, file);
    assertNear(m.restForward[0] * m.up[0] + m.restForward[1] * m.up[1] + m.restForward[2] * m.up[2], 0, 1e-9, `${file} forward ⟂ up`);
    assert.ok(m.height > 5 * m.headSize && m.height < 12 * m.headSize, `${file}: height ${m.height}, head ${m.headSize}`);
  }
});

test('projection: 18 points inside the frame for every frame of every file, feet below hips, left/right kept', async () => {
  for (const file of files) {
    const bvh = await load(file);
    const { sequence, camera } = projectBvh(bvh, createRng(11), { maxYawDeg: 30 });
    assert.deepEqual(sequence.size, [576, 1024]);
    assert.equal(sequence.frames.length, Math.ceil(bvh.frameCount / camera.stride));
    assert.ok(Math.abs(sequence.fps! - 30) < 6, `${file}: fps ${sequence.fps}`);
    let feetBelow = 0;
    let rightOnImageLeft = 0;
    let noseAboveNeck = 0;
    let faceVisible = 0;
    for (const frame of sequence.frames) {
      assert.equal(frame.persons.length, 1);
      const { body, hands, face } = frame.persons[0]!;
      assert.equal(body.length, 18);
      for (const [x, y] of body) assert.ok(x >= 0 && x <= 1 && y >= 0 && y <= 1, `${file}: point (${x}, ${y}) out of frame`);
      assert.ok(hands[0].length === 21 && hands[1].length === 21 && face.length === 68);
      assert.ok([...hands[0], ...hands[1], ...face].every((k) => k[2] === 0));
      const hipY = Math.max(body[8]![1], body[11]![1]);
      if (Math.min(body[10]![1], body[13]![1]) > hipY) feetBelow++;
      if (body[0]![2] > 0) faceVisible++;
      if (body[0]![2] > 0 && body[2]![0] < body[5]![0]) rightOnImageLeft++;
      if (body[0]![1] < body[1]![1]) noseAboveNeck++;
    }
    const n = sequence.frames.length;
    console.log(`${file}: ${n} frames, feet below hips ${feetBelow}, face visible ${faceVisible}, of which right shoulder left ${rightOnImageLeft}, nose above neck ${noseAboveNeck}`);
    assert.ok(noseAboveNeck / n > 0.9, `${file}: nose above the neck in ${noseAboveNeck}/${n} frames`);
    assert.ok(feetBelow / n > 0.97, `${file}: feet below hips in ${feetBelow}/${n} frames`);
    // While the face is towards the camera, the body's right shoulder is drawn on the image's left (the
    // camera starts within ±30° of the front; ad_zombie later turns its back).
    assert.ok(faceVisible / n > 0.5, `${file}: face visible in ${faceVisible}/${n} frames`);
    assert.ok(rightOnImageLeft / faceVisible > 0.85, `${file}: right shoulder on the left in ${rightOnImageLeft}/${faceVisible} frames`);
  }
});

test('projection is deterministic for a seed and differs between seeds', async () => {
  const bvh = await load('ad_dab.bvh');
  const a = projectBvh(bvh, createRng(5)).sequence.frames[10]!.persons[0]!.body;
  const b = projectBvh(bvh, createRng(5)).sequence.frames[10]!.persons[0]!.body;
  const c = projectBvh(bvh, createRng(6)).sequence.frames[10]!.persons[0]!.body;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

/** A CMU-named figure: offsets from `offset` (a function of the upright offset), root rotated by `rootZ` degrees in every frame. */
function figureBvh(offset: (o: [number, number, number]) => [number, number, number], rootZ: number, frames = 3): string {
  const joint = (name: string, o: [number, number, number], children: string, end = false): string =>
    `JOINT ${name}\n{\nOFFSET ${offset(o).join(' ')}\nCHANNELS 3 Zrotation Xrotation Yrotation\n${children}${end ? `End Site\n{\nOFFSET ${offset([0, 2, 0]).join(' ')}\n}\n` : ''}}\n`;
  const arm = (side: 'Left' | 'Right', s: number) => joint(`${side}Shoulder`, [4 * s, 0, 0], joint(`${side}Elbow`, [3 * s, -1, 0], joint(`${side}Wrist`, [3 * s, -1, 0], '', true)));
  const leg = (side: 'Left' | 'Right', s: number) => joint(`${side}Hip`, [2 * s, -1, 0], joint(`${side}Knee`, [0, -5, 0.5], joint(`${side}Ankle`, [0, -5, -0.5], '', true)));
  const body = joint('Spine', [0, 5, 0], joint('Neck', [0, 5, 0], arm('Left', 1) + arm('Right', -1) + joint('Head', [0, 2, 0], '', true)));
  const text = `HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n${body}${leg('Left', 1)}${leg('Right', -1)}}\n`;
  const joints = (text.match(/CHANNELS 3/g) ?? []).length;
  // the figure walks (root translation); rotations other than the root's turn would not commute with it
  const rows = Array.from({ length: frames }, (_, f) => [0, 0, 2 * f, rootZ, 0, 0, ...Array.from({ length: 3 * joints }, () => 0)].join(' '));
  return `${text}MOTION\nFrames: ${frames}\nFrame Time: 0.0333333\n${rows.join('\n')}\n`;
}

test('a rest pose that lies down (offsets along X) while the motion stands gives the upright figure\'s projection', () => {
  const upright = parseBvh(figureBvh((o) => o, 0), 'upright.bvh');
  // offsets turned by -90 deg about Z (up -> +X), the root turned back by +90 deg in every frame
  const lying = parseBvh(figureBvh(([x, y, z]) => [y, -x, z], 90), 'lying.bvh');
  const a = skeletonMapping(upright);
  const b = skeletonMapping(lying);
  assert.deepEqual(a.up, [0, 1, 0]);
  assert.deepEqual(b.up, [0, 1, 0], 'up from the motion, not the rest pose');
  assert.deepEqual(b.restUp, [1, 0, 0]);
  assertNear(b.height, a.height, 1e-9);
  const pa = projectBvh(upright, createRng(4), { size: [256, 256], fps: 30 }).sequence;
  const pb = projectBvh(lying, createRng(4), { size: [256, 256], fps: 30 }).sequence;
  for (let f = 0; f < pa.frames.length; f++) {
    const ka = pa.frames[f]!.persons[0]!.body;
    const kb = pb.frames[f]!.persons[0]!.body;
    ka.forEach((k, i) => { assertNear(kb[i]![0], k[0], 1e-6); assertNear(kb[i]![1], k[1], 1e-6); assert.equal(kb[i]![2], k[2], `frame ${f} point ${i} score`); });
  }
});

test('a BVH whose figure cannot be oriented names the file and the joints', () => {
  // every offset zero but the head's: hips coincide in every frame
  const flat = figureBvh(([x, y, z]) => (x === 0 && y === 2 && z === 0 ? [0, 2, 0] : [x * 0, y * 0, z * 0] as [number, number, number]), 0);
  assert.throws(() => skeletonMapping(parseBvh(flat, 'flat.bvh')), /flat\.bvh: .*\(joints [A-Za-z]+, [A-Za-z]+\)/);
});

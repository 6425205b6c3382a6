// The synthetic dataset: byte-identical for a seed (through the CLI and the API), resumable to the same bytes,
// the reference layout readable back, face boxes inside the frame and on the drawn face, identities that differ.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { main } from '../../src/cli/main.ts';
import { readImage } from '../../src/io/image.ts';
import { readKeypointJson } from '../../src/pose/keypoint-json.ts';
import { readSynthDataset, writeSynthDataset } from '../../src/mini/synth/dataset.ts';
import { indexDataset } from '../../src/train/animator/dataset.ts';
import { loadFaceCrops } from '../../src/mini/face-id-data.ts';
import { MOTION_DIR } from '../align/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'synth-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const A = join(dir, 'a');
const B = join(dir, 'b');
const OPTS = { identities: 6, clipsPerIdentity: 2, frames: 4, seed: 7, heldOutIdentities: 0.34, motionDir: MOTION_DIR };

function files(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  walk(root);
  return out;
}

before(async () => {
  // A through the command line, B through the API: the same files either way.
  const log = console.log;
  console.log = () => {};
  try {
    const code = await main(['synth', '--identities', '6', '--clips-per-identity', '2', '--frames', '4', '--seed', '7',
      '--held-out-identities', '0.34', '--motion', MOTION_DIR, '-o', A]);
    assert.equal(code, 0);
  } finally {
    console.log = log;
  }
  await writeSynthDataset({ root: B, ...OPTS });
});

test('same seed -> byte-identical files', () => {
  const fa = files(A).filter((f) => f !== 'identities.png' && f !== 'clips.png');
  assert.deepEqual(fa, files(B));
  assert.equal(fa.length, 12 * (3 * 4 + 2) + 5); // per clip: 3 x 4 PNGs + 2 JSON; 5 files at the root
  for (const f of fa) assert.ok(readFileSync(join(A, f)).equals(readFileSync(join(B, f))), `${f} differs`);
});

test('a killed run resumes to the same bytes', async () => {
  // Simulate a kill in the middle of clip 00004: its marker and a frame are missing, later clips never written.
  const C = join(dir, 'c');
  await writeSynthDataset({ root: C, ...OPTS });
  rmSync(join(C, 'rec', '00004', 'keypoints.json'));
  rmSync(join(C, 'rec', '00004', 'images', 'frame_2.png'));
  for (const clip of ['00009', '00010', '00011', '00012']) rmSync(join(C, 'rec', clip), { recursive: true });
  rmSync(join(C, 'split.json'));
  await writeSynthDataset({ root: C, ...OPTS });
  for (const f of files(B)) assert.ok(readFileSync(join(B, f)).equals(readFileSync(join(C, f))), `${f} differs after resume`);
  // Another seed in the same folder is refused, naming the file.
  await assert.rejects(writeSynthDataset({ root: C, ...OPTS, seed: 8 }), /synth\.json.*other options/);
});

test('layout: path lists, frames, single-channel masks, keypoints, labels and split', async () => {
  // The trainer's reader of the reference layout takes every clip, through the relative path list.
  const index = await indexDataset(A, { minFrames: 4 });
  assert.deepEqual(index.skipped, []);
  assert.deepEqual(index.entries.map((e) => e.dir), readFileSync(join(A, 'video_rec_path.txt'), 'utf8').trim().split('\n').map((l) => join(A, l)));
  assert.equal(readFileSync(join(A, 'video_vec_path.txt'), 'utf8'), '');
  const clips = index.entries.map((e) => e.dir);
  assert.equal(clips.length, 12);
  for (const e of index.entries) assert.deepEqual(e.frames, ['frame_0.png', 'frame_1.png', 'frame_2.png', 'frame_3.png']);
  for (const clip of clips) {
    for (const sub of ['images', 'faces', 'poses']) {
      assert.deepEqual(readdirSync(join(clip, sub)).sort(), ['frame_0.png', 'frame_1.png', 'frame_2.png', 'frame_3.png']);
    }
    const mask = await sharp(join(clip, 'faces', 'frame_0.png')).metadata();
    assert.equal(mask.channels, 1);
    const image = await readImage(join(clip, 'images', 'frame_0.png'));
    assert.deepEqual([image.width, image.height, image.channels], [128, 128, 3]);
    const poses = await readKeypointJson(join(clip, 'keypoints.json'));
    assert.equal(poses.frames.length, 4);
    assert.deepEqual(poses.size, [128, 128]);
  }
  const data = await readSynthDataset(A);
  assert.equal(data.identities.length, 6);
  assert.equal(data.split.heldOutIdentities.length, 2);
  assert.equal(data.split.trainIdentities.length, 4);
  assert.ok(data.split.heldOutMotions.length >= 2 && data.split.trainMotions.length >= 2);
  for (const c of data.clips) {
    const heldId = data.split.heldOutIdentities.includes(c.identity);
    const heldMotion = data.split.heldOutMotions.includes(c.motion);
    assert.equal(c.group, heldId ? (heldMotion ? 'heldout_both' : 'heldout_identity') : (heldMotion ? 'heldout_motion' : 'train'));
    assert.ok(data.split.clips[c.group].includes(c.clip));
  }
});

test('face boxes lie inside the frame, on the drawn face; the mask is the box', async () => {
  const data = await readSynthDataset(A);
  let boxes = 0;
  let skinFraction = 0;
  for (const c of data.clips) {
    const id = data.identities.find((i) => i.id === c.identity)!;
    const faces = JSON.parse(readFileSync(join(A, c.path, 'faces.json'), 'utf8')) as { boxes: number[][][] };
    for (let f = 0; f < 4; f++) {
      const box = faces.boxes[f]![0];
      const mask = await sharp(join(A, c.path, 'faces', `frame_${f}.png`)).extractChannel(0).raw().toBuffer();
      if (!box) {
        assert.ok(c.noFace.includes(f));
        assert.equal(mask.reduce((n, v) => n + (v ? 1 : 0), 0), 0, 'a frame without a face has an empty mask');
        continue;
      }
      boxes++;
      const [x1, y1, x2, y2] = box as [number, number, number, number];
      assert.ok(x1 >= -2 && y1 >= -8 && x2 <= 130 && y2 <= 130 && x2 - x1 >= 4 && y2 - y1 >= 4, `box ${box} of ${c.clip}/${f}`);
      // The mask is 255 exactly on the rounded box.
      for (let y = 0; y < 128; y++) {
        for (let x = 0; x < 128; x++) {
          const inBox = x >= Math.max(0, Math.round(x1)) && x <= Math.round(x2) && y >= Math.max(0, Math.round(y1)) && y <= Math.round(y2);
          assert.equal(mask[y * 128 + x], inBox ? 255 : 0, `${c.clip}/${f} box ${box} at ${x},${y} mask length ${mask.length}`);
        }
      }
      // Skin-coloured pixels (within 30% of the identity's skin, any shading) fill much of the box.
      const image = await readImage(join(A, c.path, 'images', `frame_${f}.png`));
      let skin = 0, n = 0;
      for (let y = Math.max(0, Math.round(y1)); y <= Math.min(127, Math.round(y2)); y++) {
        for (let x = Math.max(0, Math.round(x1)); x <= Math.min(127, Math.round(x2)); x++) {
          const p = image.data.subarray((y * 128 + x) * 3, (y * 128 + x) * 3 + 3);
          const k = (p[0]! + p[1]! + p[2]!) / Math.max(1, id.skin[0] + id.skin[1] + id.skin[2]);
          const off = Math.abs(p[0]! - k * id.skin[0]) + Math.abs(p[1]! - k * id.skin[1]) + Math.abs(p[2]! - k * id.skin[2]);
          if (k > 0.6 && k < 1.15 && off < 40) skin++;
          n++;
        }
      }
      skinFraction += skin / n;
    }
  }
  assert.ok(boxes >= 24, `only ${boxes} of 48 frames show a face`);
  assert.ok(skinFraction / boxes > 0.3, `mean skin fraction in face boxes ${(skinFraction / boxes).toFixed(3)}`);
});

test('identities differ: face crops of different identities are further apart than crops of one identity', async () => {
  const data = await readSynthDataset(A);
  const crops = await loadFaceCrops(data, data.clips.map((c) => c.clip), 16);
  const per = 3 * 16 * 16;
  const dist = (a: number, b: number) => {
    let s = 0;
    for (let i = 0; i < per; i++) s += (crops.pixels[a * per + i]! - crops.pixels[b * per + i]!) ** 2;
    return Math.sqrt(s / per);
  };
  let within = 0, nw = 0, between = 0, nb = 0;
  for (let a = 0; a < crops.identity.length; a++) {
    for (let b = a + 1; b < crops.identity.length; b++) {
      if (crops.identity[a] === crops.identity[b]) { within += dist(a, b); nw++; } else { between += dist(a, b); nb++; }
    }
  }
  assert.ok(nw > 10 && nb > 10);
  assert.ok(between / nb > 1.3 * (within / nw), `between ${(between / nb).toFixed(3)} vs within ${(within / nw).toFixed(3)}`);
  assert.ok(existsSync(join(A, 'identities.png')) && existsSync(join(A, 'clips.png')));
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  KEYPOINT_FORMAT, PoseFileError, parseKeypointJson, readKeypointJson, readPoseFile, writeKeypointJson,
} from '../../src/pose/keypoint-json.ts';
import { parseDwposeSequence } from '../../src/pose/dwpose-file.ts';
import type { PoseSequence } from '../../src/pose/keypoints.ts';
import { createRng } from '../../src/util/rng.ts';
import { MOTION_DIR, randomPerson } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'keypoint-json-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sampleSequence(): PoseSequence {
  const rng = createRng(9);
  return {
    size: [576, 1024],
    fps: 15,
    frames: [{ persons: [randomPerson(rng)] }, { persons: [] }, { persons: [randomPerson(rng), randomPerson(rng)] }],
  };
}

test('keypoint JSON round trip is exact and the write is atomic (no temporary file left)', async () => {
  const seq = sampleSequence();
  const path = join(dir, 'round.json');
  await writeKeypointJson(path, seq);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('round')), ['round.json']);
  const back = await readKeypointJson(path);
  assert.deepEqual(back, seq);
  const raw = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(raw.format, KEYPOINT_FORMAT);
  assert.equal(raw.frames[0].persons[0].face.length, 1, 'face is written as [[...68]]');
  assert.equal(raw.frames[0].persons[0].face[0].length, 68);
  // Overwriting replaces the file whole.
  await writeKeypointJson(path, { size: [10, 20], frames: [] });
  assert.deepEqual(await readPoseFile(path), { size: [10, 20], frames: [] });
});

test('keypoint JSON accepts a bare 68-point face list', () => {
  const seq = sampleSequence();
  const raw = JSON.parse(JSON.stringify({ format: KEYPOINT_FORMAT, size: seq.size, frames: seq.frames }));
  assert.deepEqual(parseKeypointJson(raw, 'flat.json').frames, seq.frames);
});

test('validation errors name the file, frame, person and field with expected and found counts', async () => {
  const good = JSON.parse(JSON.stringify({ format: KEYPOINT_FORMAT, size: [576, 1024], frames: sampleSequence().frames.map((f) => ({ persons: f.persons.map((p) => ({ ...p, face: [p.face] })) })) }));
  const mutate = (fn: (v: any) => void): unknown => {
    const v = structuredClone(good);
    fn(v);
    return v;
  };
  const cases: [unknown, RegExp][] = [
    [mutate((v) => v.frames[2].persons[1].hands[1].pop()), /^bad\.json: frame 2, person 1, field "hands\[1\]": expected 21 keypoints, found 20$/],
    [mutate((v) => v.frames[0].persons[0].body.push([0, 0, 0])), /^bad\.json: frame 0, person 0, field "body": expected 18 keypoints, found 19$/],
    [mutate((v) => { v.frames[0].persons[0].body[3] = [0.1, 0.2]; }), /^bad\.json: frame 0, person 0, field "body\[3\]": expected 3 numbers \[x, y, score\], found 2$/],
    [mutate((v) => { v.frames[2].persons[0].face[0][5][2] = 'x'; }), /^bad\.json: frame 2, person 0, field "face\[0\]\[5\]": expected a finite number, found string "x"$/],
    [mutate((v) => { v.frames[0].persons[0].hands = [v.frames[0].persons[0].hands[0]]; }), /field "hands": expected 2 hands \[left, right\], found 1$/],
    [mutate((v) => { v.format = 'openpose'; }), /^bad\.json: field "format": expected "stable-animator-keypoints\/1", found string "openpose"$/],
    [mutate((v) => { v.size = [576]; }), /field "size": expected 2 numbers \[W, H\], found 1$/],
    [mutate((v) => { v.frames[1] = 3; }), /^bad\.json: frame 1: expected an object, found number 3$/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(() => parseKeypointJson(value, 'bad.json'), (err: unknown) => err instanceof PoseFileError && pattern.test(err.message));
  }
  // The same message through the file reader, and a refusal to write a malformed sequence.
  const path = join(dir, 'broken.json');
  writeFileSync(path, JSON.stringify(cases[0]![0]));
  await assert.rejects(readPoseFile(path), new RegExp(`^PoseFileError: ${path.replace(/[.]/g, '\\.')}: frame 2, person 1`));
  const seq = sampleSequence();
  seq.frames[0]!.persons[0]!.face.pop();
  await assert.rejects(writeKeypointJson(join(dir, 'never.json'), seq), /never\.json: frame 0, person 0, field "face\[0\]": expected 68 keypoints, found 67/);
  assert.ok(!readdirSync(dir).some((f) => f.includes('never')));
  writeFileSync(join(dir, 'other.json'), '{"frames": [{"foo": 1}]}');
  await assert.rejects(readPoseFile(join(dir, 'other.json')), /unknown pose format/);
  writeFileSync(join(dir, 'notjson.json'), '{"frames": [');
  await assert.rejects(readPoseFile(join(dir, 'notjson.json')), /notjson\.json: not valid JSON/);
});

test('DWPose dumps: read through readPoseFile, invisible body points get score 0', async () => {
  const path = join(MOTION_DIR, 'dwpose', 'echomimic_fight.json');
  const raw = JSON.parse(readFileSync(path, 'utf8'));
  const seq = await readPoseFile(path);
  assert.deepEqual(seq.size, [768, 768]);
  assert.equal(seq.frames.length, 132);
  const f0 = raw.frames[0];
  const p = seq.frames[0]!.persons[0]!;
  assert.equal(seq.frames[0]!.persons.length, 1);
  assert.deepEqual(p.body[0], [...f0.body_candidate_18x2[0], f0.body_score[0][0]]);
  assert.equal(p.body[9]![2], 0, 'subset -1 -> score 0');
  assert.equal(f0.body_subset[0][9], -1);
  assert.deepEqual(p.hands[1][20], [...f0.hands_2x21x2[1][20], f0.hands_score[1][20]]);
  assert.deepEqual(p.face[67], [...f0.faces_1x68x2[0][67], f0.faces_score[0][67]]);
  const hidden = seq.frames.reduce((n, fr) => n + fr.persons[0]!.body.filter((k) => k[2] === 0).length, 0);
  assert.equal(hidden, 528);
});

test('DWPose: several persons (left hands first, then right hands), size option, square default, errors', () => {
  const rng = createRng(2);
  const n = 2;
  const xy = (k: number) => Array.from({ length: k }, () => [rng.next(), rng.next()]);
  const frame = {
    body_candidate_18x2: xy(18 * n),
    body_subset: [Array.from({ length: 18 }, (_, j) => j), Array.from({ length: 18 }, (_, j) => (j === 4 ? -1 : 18 + j))],
    body_score: [new Array(18).fill(0.9), new Array(18).fill(0.8)],
    hands_2x21x2: [xy(21), xy(21), xy(21), xy(21)],
    hands_score: [0, 1, 2, 3].map((h) => new Array(21).fill(h / 10)),
    faces_1x68x2: [xy(68), xy(68)],
    faces_score: [new Array(68).fill(0.5), new Array(68).fill(0.6)],
  };
  const seq = parseDwposeSequence({ frames: [frame] }, 'two.json');
  assert.deepEqual(seq.size, [512, 512]);
  const [a, b] = seq.frames[0]!.persons;
  assert.equal(a!.hands[0][0]![2], 0.0);
  assert.equal(a!.hands[1][0]![2], 0.2);
  assert.equal(b!.hands[0][0]![2], 0.1);
  assert.equal(b!.hands[1][0]![2], 0.3);
  assert.deepEqual(b!.body[5]!.slice(0, 2), frame.body_candidate_18x2[23]);
  assert.equal(b!.body[4]![2], 0);
  assert.equal(b!.face[0]![2], 0.6);
  assert.deepEqual(parseDwposeSequence({ size: [1280, 720], fps: 24, frames: [frame] }, 'sized.json').size, [1280, 720]);
  const bad = structuredClone(frame);
  bad.hands_2x21x2[3]!.pop();
  assert.throws(() => parseDwposeSequence({ frames: [frame, bad] }, 'two.json'), /^PoseFileError: two\.json: frame 1, person 1, field "hands_2x21x2\[3\]": expected 21 keypoints, found 20$/);
  const short = structuredClone(frame);
  short.body_candidate_18x2.pop();
  assert.throws(() => parseDwposeSequence({ frames: [short] }, 'two.json'), /frame 0, field "body_candidate_18x2": expected 36 rows \(18 per person, 2 person\(s\)\), found 35/);
});

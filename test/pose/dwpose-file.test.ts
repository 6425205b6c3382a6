import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { drivingKind, loadDrivingPoses } from '../../src/pipeline/driving.ts';
import { parseDwposeSequence } from '../../src/pose/dwpose-file.ts';
import { PoseFileError, readPoseFile, writeKeypointJson } from '../../src/pose/keypoint-json.ts';
import type { PoseSequence } from '../../src/pose/keypoints.ts';

// Written by NumPy 2.4 with test/fixtures/npy_poses/make.py: MusePose-style dicts without score fields.
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/npy_poses/${name}`, import.meta.url));
const MARKER = '/tmp/stable-animator-hostile-npy-marker';
const dir = mkdtempSync(join(tmpdir(), 'dwpose-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Raw = { bodies: { candidate: number[][]; subset: number[][] }; hands: number[][][]; faces: number[][][] };
const raw = (): Raw[] => JSON.parse(readFileSync(fixture('musepose.json'), 'utf8'));

test('MusePose dicts without scores: the .npy NumPy wrote and the same dicts as JSON give the same poses', async () => {
  const fromNpy = await readPoseFile(fixture('musepose.npy'));
  const fromJson = await readPoseFile(fixture('musepose.json'));
  assert.deepEqual(fromNpy, fromJson);
  assert.deepEqual(await readPoseFile(fixture('musepose_numpy1.npy')), fromNpy, 'NumPy 1.x pickle');
  assert.deepEqual(fromNpy.size, [512, 512], 'no size in the file: square');
  assert.equal(fromNpy.fps, undefined);
  assert.deepEqual(fromNpy.frames.map((f) => f.persons.length), [1, 2, 0]);

  const [f0, f1] = raw();
  const p = fromNpy.frames[0]!.persons[0]!;
  assert.deepEqual(p.body[0], [...f0!.bodies.candidate[0]!, 1], 'listed joint: score 1');
  for (const j of [9, 10, 13]) assert.deepEqual(p.body[j], [...f0!.bodies.candidate[j]!, 0], `subset -1 at ${j}: score 0`);
  assert.equal(p.body.filter((k) => k[2] === 0).length, 3);
  // (-1, -1) marks a hand or face point below the detector's threshold
  assert.deepEqual(p.hands[0].map((k) => k[2]), Array.from({ length: 21 }, (_, i) => (i >= 3 && i <= 5 ? 0 : 1)));
  assert.deepEqual(p.hands[0][3], [-1, -1, 0]);
  assert.deepEqual(p.hands[1][20], [-1, -1, 0]);
  assert.deepEqual(p.hands[1][19], [...f0!.hands[1]![19]!, 1]);
  assert.deepEqual(p.face.map((k) => k[2]), Array.from({ length: 68 }, (_, i) => (i >= 60 ? 0 : 1)));
  assert.deepEqual(p.face[0], [...f0!.faces[0]![0]!, 1]);
  // Two persons: hands are [left of 0, left of 1, right of 0, right of 1].
  const [a, b] = fromNpy.frames[1]!.persons;
  assert.deepEqual([a!.hands[0][0], a!.hands[1][0], b!.hands[0][0], b!.hands[1][0]].map((k) => k.slice(0, 2)),
    [f1!.hands[0]![0], f1!.hands[2]![0], f1!.hands[1]![0], f1!.hands[3]![0]]);
  assert.deepEqual(b!.body[4], [...f1!.bodies.candidate[22]!, 1]);
  assert.deepEqual(b!.face[67]!.slice(0, 2), f1!.faces[1]![67]);
  assert.deepEqual((await readPoseFile(fixture('musepose.npy'), { squareSide: 768 })).size, [768, 768]);
});

test('a folder of per-frame .npy (np.save of one dict each) or .json files is one sequence, and a driving input', async () => {
  const whole = await readPoseFile(fixture('musepose.npy'));
  assert.deepEqual(await readPoseFile(fixture('frames')), whole);
  const jsonFrames = join(dir, 'json-frames');
  mkdirSync(jsonFrames);
  raw().forEach((d, i) => writeFileSync(join(jsonFrames, `frame_${i}.json`), JSON.stringify(d)));
  assert.deepEqual(await readPoseFile(jsonFrames), whole);
  assert.equal(await drivingKind(fixture('frames')), 'keypoints');
  assert.equal(await drivingKind(fixture('musepose.npy')), 'keypoints');
  const skeletons = join(dir, 'skeletons');
  mkdirSync(skeletons);
  copyFileSync(fixture('frames/0.npy'), join(skeletons, 'notes.npy'));
  writeFileSync(join(skeletons, 'frame_0.png'), '');
  assert.equal(await drivingKind(skeletons), 'skeletons', 'images win');
  writeFileSync(join(jsonFrames, 'frame_3.json'), JSON.stringify(raw()));
  await assert.rejects(readPoseFile(jsonFrames), /frame_3\.json: expected 1 frame \(a folder holds one frame per file\), found 3$/);
});

test('StableAnimator/MimicMotion dicts with score fields (float32, a Fortran-ordered candidate)', async () => {
  const seq = await readPoseFile(fixture('scored.npy'));
  assert.deepEqual(seq, await readPoseFile(fixture('scored.json')));
  const [d] = JSON.parse(readFileSync(fixture('scored.json'), 'utf8'));
  const p = seq.frames[0]!.persons[0]!;
  assert.deepEqual(p.body[2], [...d.bodies.candidate[2], d.bodies.score[0][2]]);
  assert.equal(p.body[9]![2], 0, 'subset -1 wins over the score');
  assert.deepEqual(p.hands[1][0], [...d.hands[1][0], 0.25]);
  assert.deepEqual(p.face[5], [...d.faces[0][5], d.faces_score[0][5]]);
});

test('a hostile .npy is refused through readPoseFile and the driving loader, naming the file and the global; nothing runs', async () => {
  rmSync(MARKER, { force: true });
  const path = fixture('hostile_system.npy');
  await assert.rejects(readPoseFile(path), new RegExp(`^Error: ${path.replace(/[.]/g, '\\.')}: refusing to load: the pickle references the global 'posix\\.system'`));
  await assert.rejects(loadDrivingPoses(fixture('hostile_eval.npy'), { width: 64, height: 64, align: 'none' }), /hostile_eval\.npy: refusing to load: the pickle references the global 'builtins\.eval'/);
  assert.ok(!existsSync(MARKER), 'nothing ran');
  await assert.rejects(readPoseFile(fixture('numeric_f4.npy')), /numeric_f4\.npy: expected DWPose dicts \(an object array\), found a float32 array of shape \(2, 3\)$/);
});

test('malformed dicts: errors name the file, frame, person, field, the expected and the found', () => {
  const cases: [(d: any[]) => void, RegExp][] = [
    [(d) => d[1].hands.pop(), /^m\.json: frame 1, field "hands": expected 4 hands \(two per person\), found 3$/],
    [(d) => delete d[0].bodies.subset, /^m\.json: frame 0, field "bodies\.subset": expected an array of rows \(one per person\), found nothing \(the field is missing\)$/],
    [(d) => { d[1].bodies.subset[1][4] = 99; }, /^m\.json: frame 1, person 1, field "bodies\.subset\[1\]\[4\]": expected a row of bodies\.candidate \(0 to 35\) or -1, found 99$/],
    [(d) => d[1].faces[1].pop(), /^m\.json: frame 1, person 1, field "faces\[1\]": expected 68 keypoints, found 67$/],
    [(d) => { d[0].hands_score = [[0.5]]; }, /^m\.json: frame 0, field "hands_score": expected 2 rows \(two per person\), found 1$/],
    [(d) => { d[0].bodies.candidate[3] = [0.1]; }, /^m\.json: frame 0, person 0, field "bodies\.candidate\[3\]": expected 2 numbers \[x, y\], found 1$/],
    [(d) => { d[0].bodies = [1]; }, /^m\.json: frame 0, field "bodies": expected a dict \{candidate, subset\}, found an array of 1$/],
    [(d) => { d[2] = 'x'; }, /^m\.json: frame 2: expected a DWPose dict, found string "x"$/],
  ];
  for (const [mutate, pattern] of cases) {
    const d = raw();
    mutate(d);
    assert.throws(() => parseDwposeSequence(d, 'm.json'), (err: unknown) => err instanceof PoseFileError && pattern.test(err.message) || assert.fail(String(err)));
  }
  assert.throws(() => parseDwposeSequence([{ foo: 1 }], 'm.json'), /^PoseFileError: m\.json: unknown pose format/);
});

test('the DWPose dump without score fields (the issue\'s file) loads; hands and faces may be absent', () => {
  const [d] = raw();
  const frame = { body_candidate_18x2: d!.bodies.candidate, body_subset: d!.bodies.subset, hands_2x21x2: d!.hands, faces_1x68x2: d!.faces };
  const dump = parseDwposeSequence({ size: [720, 1280], fps: 25, frames: [frame] }, 'dump.json');
  assert.deepEqual([dump.size, dump.fps], [[720, 1280], 25]);
  const dict = parseDwposeSequence([d], 'dict.json');
  assert.deepEqual(dump.frames, dict.frames);
  const bare = parseDwposeSequence({ bodies: d!.bodies }, 'one.json');
  assert.equal(bare.frames.length, 1);
  assert.deepEqual(bare.frames[0]!.persons[0]!.body, dict.frames[0]!.persons[0]!.body);
  assert.deepEqual(bare.frames[0]!.persons[0]!.hands[0][0], [0, 0, 0]);
  assert.throws(() => parseDwposeSequence({ fps: -1, frames: [frame] }, 'dump.json'), /^PoseFileError: dump\.json: field "fps": expected a positive number, found -1$/);
});

test('keypoint files carry their fps to the driving poses; .npy files have none', async () => {
  const seq: PoseSequence = { ...(await readPoseFile(fixture('musepose.npy'))), fps: 12.5 };
  const path = join(dir, 'with-fps.json');
  await writeKeypointJson(path, seq);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).fps, 12.5);
  assert.equal((await readPoseFile(path)).fps, 12.5);
  const driving = await loadDrivingPoses(path, { width: 32, height: 32, align: 'none', maxFrames: 2 });
  assert.deepEqual([driving.kind, driving.sampling.sourceFps, driving.images.length], ['keypoints', 12.5, 2]);
  const fromNpy = await loadDrivingPoses(fixture('frames'), { width: 32, height: 32, align: 'none' });
  assert.deepEqual([fromNpy.kind, fromNpy.sampling.sourceFps, fromNpy.images.length], ['keypoints', undefined, 3]);
});

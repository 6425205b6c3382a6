import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { poseFrameFromDwposeDict, type DwposeDict } from '../../src/pose/dwpose-dict.ts';

const cases = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/draw_pose/cases.json', import.meta.url)), 'utf8')).cases as {
  pose: DwposeDict;
}[];

test('a one-person DWPose dict maps to body, hands and face with scores', () => {
  const d = cases[0].pose;
  const [person, ...rest] = poseFrameFromDwposeDict(d).persons;
  assert.equal(rest.length, 0);
  assert.equal(person.body.length, 18);
  assert.deepEqual(person.body[1], [d.candidate![1][0], d.candidate![1][1], 1]); // the neck
  assert.equal(d.subset![0][9], -1);
  assert.deepEqual(person.body[9], [d.candidate![9][0], d.candidate![9][1], 0]); // listed missing: score 0
  assert.deepEqual(person.hands[0][0], [d.hands![0][0][0], d.hands![0][0][1], d.hands_score![0][0]]);
  assert.deepEqual(person.hands[1][20], [d.hands![1][20][0], d.hands![1][20][1], d.hands_score![1][20]]);
  assert.equal(person.face.length, 68);
  assert.deepEqual(person.face[30], [d.faces![0][30][0], d.faces![0][30][1], d.faces_score![0][30]]);
});

test('DWPose layouts: nested bodies, all left hands before all right hands, subset -1 wins over the score', () => {
  const pt = (x: number) => [x, x];
  const dict: DwposeDict = {
    bodies: {
      candidate: Array.from({ length: 36 }, (_, i) => pt(i / 100)),
      subset: [Array.from({ length: 18 }, (_, j) => j), Array.from({ length: 18 }, (_, j) => (j === 3 ? -1 : 18 + j))],
      score: [new Array(18).fill(0.9), new Array(18).fill(0.9)],
    },
    hands: [0.1, 0.2, 0.3, 0.4].map((v) => Array.from({ length: 21 }, () => pt(v))),
    hands_score: [0.1, 0.2, 0.3, 0.4].map((v) => new Array(21).fill(v)),
    faces: [0.5, 0.6].map((v) => Array.from({ length: 68 }, () => pt(v))),
  };
  const [a, b] = poseFrameFromDwposeDict(dict).persons;
  assert.deepEqual([a.hands[0][0][0], a.hands[1][0][0], b.hands[0][0][0], b.hands[1][0][0]], [0.1, 0.3, 0.2, 0.4]);
  assert.deepEqual(b.body[4], [0.22, 0.22, 0.9]);
  assert.deepEqual(b.body[3], [0.21, 0.21, 0]); // listed missing, so not drawn even with a high score
  assert.deepEqual(a.face[0], [0.5, 0.5, 1]); // no faces_score: detected
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  keypointsFromCocoTriplets,
  OPENPOSE_FROM_COCO17,
  personFromCoco17,
  personFromCocoAnnotation,
  personFromWholeBody,
  type CocoPersonAnnotation,
} from '../../src/pose/convert.ts';
import { BODY_NAMES } from '../../src/pose/keypoints.ts';
import { SHARED_DIR } from '../io/helpers.ts';

const COCO17_NAMES = [
  'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder', 'left_elbow',
  'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
];

test('the OpenPose-18 remap takes every joint from the COCO joint of the same name', () => {
  OPENPOSE_FROM_COCO17.forEach((coco, i) => assert.equal(coco < 0 ? 'neck' : COCO17_NAMES[coco], BODY_NAMES[i]));
});

test('neck: mean of the shoulders, score 1 only when both shoulders score above 0.3', () => {
  const xy = new Float64Array(34);
  const scores = new Float64Array(17).fill(0.9);
  xy.set([100, 40], 10); // left shoulder
  xy.set([60, 50], 12); // right shoulder
  const person = personFromCoco17({ xy, scores }, [200, 100]);
  assert.deepEqual(person.body[1], [0.4, 0.45, 1]);
  assert.deepEqual(person.body[5], [0.5, 0.4, 0.9]);
  scores[6] = 0.3;
  assert.equal(personFromCoco17({ xy, scores }, [200, 100]).body[1][2], 0);
  assert.ok(person.hands[0].every((k) => k[2] === 0) && person.face.every((k) => k[2] === 0));
  assert.throws(() => personFromWholeBody({ xy, scores }, [200, 100]), /expected 133 keypoints, got 17/);
});

test('COCO visibility flags become scores', () => {
  const { xy, scores } = keypointsFromCocoTriplets([1, 2, 0, 3, 4, 1, 5, 6, 2, 7, 8, 0.25]);
  assert.deepEqual([...xy], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...scores], [0, 1, 1, 0.25]);
  assert.deepEqual([...keypointsFromCocoTriplets([0, 0, 1], 0.5).scores], [0.5]);
});

const wholebodyPath = join(SHARED_DIR, 'data/photos/coco_gt/test_coco_wholebody.json');

test('a real COCO-WholeBody annotation lands where it should', { skip: !existsSync(wholebodyPath) && 'no ../shared data' }, () => {
  const data = JSON.parse(readFileSync(wholebodyPath, 'utf8')) as {
    images: { id: number; width: number; height: number }[];
    annotations: (CocoPersonAnnotation & { id: number; image_id: number })[];
  };
  const sizeOf = (imageId: number): [number, number] => {
    const image = data.images.find((i) => i.id === imageId)!;
    return [image.width, image.height];
  };
  // Image 785 (640x425): one skier, all 17 body points visible, right hand labelled, left hand not.
  const ann = data.annotations.find((a) => a.id === 442619)!;
  const size = sizeOf(ann.image_id);
  const p = personFromCocoAnnotation(ann, size);
  assert.deepEqual([p.body.length, p.hands[0].length, p.hands[1].length, p.face.length], [18, 21, 21, 68]);
  assert.deepEqual(p.body[0], [367 / 640, 81 / 425, 1]); // nose
  assert.deepEqual(p.body[2], [358 / 640, 129 / 425, 1]); // right shoulder = COCO 6
  assert.deepEqual(p.body[5], [399 / 640, 108 / 425, 1]); // left shoulder = COCO 5
  assert.deepEqual(p.body[1], [(358 + 399) / 2 / 640, (129 + 108) / 2 / 425, 1]); // neck between them
  assert.ok(p.body[1][1] > p.body[0][1], 'neck below the nose');
  // Different annotators labelled the body, the face and the hands: the same joints agree within a few pixels.
  const near = (a: number[], b: number[], px: number) => Math.hypot((a[0] - b[0]) * size[0], (a[1] - b[1]) * size[1]) < px;
  assert.ok(near(p.face[30], p.body[0], 3), 'face point 30 (nose tip) at the body nose');
  assert.ok(near(p.hands[1][0], p.body[4], 8), 'right-hand root at the right wrist');
  assert.ok(p.hands[0].every((k) => k[2] === 0), 'left hand not labelled (lefthand_valid false)');
  assert.ok(p.hands[1].every((k) => k[2] === 1));

  // Image 40083 has a person with occluded (v=1) points and one with no labels at all.
  const partial = data.annotations.find((a) => a.id === 198196)!;
  const q = personFromCocoAnnotation(partial, sizeOf(partial.image_id), { occludedScore: 0.5 });
  const flags = partial.keypoints.filter((_, i) => i % 3 === 2);
  OPENPOSE_FROM_COCO17.forEach((coco, i) => {
    if (coco >= 0) assert.equal(q.body[i][2], [0, 0.5, 1][flags[coco]], `joint ${BODY_NAMES[i]}`);
  });
  assert.ok(near(q.hands[0][0], q.body[7], 8), 'left-hand root at the left wrist');
  const empty = data.annotations.find((a) => a.id === 1202706)!;
  const e = personFromCocoAnnotation(empty, sizeOf(empty.image_id));
  assert.ok([...e.body, ...e.face, ...e.hands[0], ...e.hands[1]].every((k) => k[2] === 0));

  // Every annotation converts, and every visible joint lies inside its image.
  for (const a of data.annotations) {
    const person = personFromCocoAnnotation(a, sizeOf(a.image_id));
    for (const k of [...person.body, ...person.face, ...person.hands[0], ...person.hands[1]]) {
      if (k[2] > 0) assert.ok(k[0] >= 0 && k[0] <= 1 && k[1] >= 0 && k[1] <= 1);
    }
  }
});

const cocoPath = join(SHARED_DIR, 'data/photos/coco_gt/test_coco.json');

test('a real COCO-17 annotation converts to a body with no hands or face', { skip: !existsSync(cocoPath) && 'no ../shared data' }, () => {
  const data = JSON.parse(readFileSync(cocoPath, 'utf8'));
  const ann = data.annotations.find((a: { id: number }) => a.id === 442619);
  const person = personFromCocoAnnotation({ keypoints: ann.keypoints }, [640, 425]);
  assert.deepEqual(person.body[0], [367 / 640, 81 / 425, 1]);
  assert.equal(person.body[1][2], 1);
  assert.ok(person.hands[1].every((k) => k[2] === 0));
});

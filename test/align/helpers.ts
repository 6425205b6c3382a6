import assert from 'node:assert/strict';
import type { Keypoint, PersonPose } from '../../src/pose/keypoints.ts';
import { NUM_BODY, NUM_FACE, NUM_HAND } from '../../src/pose/keypoints.ts';
import type { Rng } from '../../src/util/rng.ts';

export const MOTION_DIR = '/work/shared/data/motion';

export function assertNear(actual: number, expected: number, tol: number, what = 'value'): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected}, got ${actual} (|diff| ${Math.abs(actual - expected)} > ${tol})`);
}

export function randomPoints(rng: Rng, n: number, score = 1): Keypoint[] {
  return Array.from({ length: n }, (): Keypoint => [rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), score]);
}

export function randomPerson(rng: Rng): PersonPose {
  return {
    body: randomPoints(rng, NUM_BODY),
    hands: [randomPoints(rng, NUM_HAND), randomPoints(rng, NUM_HAND)],
    face: randomPoints(rng, NUM_FACE),
  };
}

export function maxPointDiff(a: readonly Keypoint[], b: readonly Keypoint[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  a.forEach((k, i) => { m = Math.max(m, Math.abs(k[0] - b[i]![0]), Math.abs(k[1] - b[i]![1])); });
  return m;
}

export function maxPersonDiff(a: PersonPose, b: PersonPose): number {
  return Math.max(
    maxPointDiff(a.body, b.body), maxPointDiff(a.hands[0], b.hands[0]), maxPointDiff(a.hands[1], b.hands[1]),
    maxPointDiff(a.face, b.face),
  );
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { poolDistances, poseDistance } from '../../src/eval/pose-distance.ts';
import type { Keypoint, PersonPose } from '../../src/pose/keypoints.ts';
import { assertNear } from './helpers.ts';

const blank = (n: number): Keypoint[] => Array.from({ length: n }, (): Keypoint => [0, 0, 0]);
const person = (body: Keypoint[], hand: Keypoint[] = blank(21)): PersonPose => ({
  body: [...body, ...blank(18 - body.length)], hands: [hand, blank(21)], face: blank(68),
});

test('Dis on a hand-computed case: visible body points only, hands on request', () => {
  const gt = [
    person([[0.5, 0.5, 1], [0.2, 0.2, 1], [0.9, 0.1, 0.2]]),
    person([[0.0, 0.0, 1]], [[0.3, 0.3, 1]]),
  ];
  const aligned = [
    person([[0.8, 0.9, 1], [0.2, 0.2, 1], [0.0, 0.0, 1]]), // 0.5 (3-4-5), 0, third point invisible in gt
    person([[0.6, 0.8, 0.9]], [[0.3, 0.4, 1]]),           // 1.0; hand point 0.1 away
  ];
  const body = poseDistance(aligned, gt);
  assert.equal(body.count, 3);
  assertNear(body.mean, (0.5 + 0 + 1) / 3, 1e-15, 'body Dis');
  const withHands = poseDistance(aligned, gt, { parts: ['body', 'hands'] });
  assert.equal(withHands.count, 4);
  assertNear(withHands.mean, (0.5 + 0 + 1 + 0.1) / 4, 1e-15, 'body+hands Dis');
  // A point counts only when visible in both.
  const lowScore = poseDistance([person([[0.8, 0.9, 0.1]])], [person([[0.5, 0.5, 1]])]);
  assert.equal(lowScore.count, 0);
  assert.ok(Number.isNaN(lowScore.mean));
  const pooled = poolDistances([poseDistance(aligned.slice(0, 1), gt.slice(0, 1)), poseDistance(aligned.slice(1), gt.slice(1))]);
  assertNear(pooled.mean, body.mean, 1e-15, 'pooled');
  assert.throws(() => poseDistance(aligned, gt.slice(1)), /2 aligned frames for 1 ground-truth frames/);
});

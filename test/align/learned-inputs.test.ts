// The alignment loss on hand-computed cases, invalid inputs (clear errors), and several persons per frame.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { alignPoseFrames } from '../../src/align/align-frames.ts';
import { buildAlignmentBatch } from '../../src/align/alignment-features.ts';
import { alignmentLoss } from '../../src/align/alignment-loss.ts';
import { LearnedAlignment } from '../../src/align/learned-alignment.ts';
import { alignSequenceLearned } from '../../src/align/learned-transforms.ts';
import { matchPersons } from '../../src/align/person-matching.ts';
import { applySimilarity, makeSimilarity, similarityAboutCentre } from '../../src/pose/similarity.ts';
import type { FrameSize } from '../../src/pose/similarity.ts';
import type { Keypoint, PersonPose } from '../../src/pose/keypoints.ts';
import { createRng } from '../../src/util/rng.ts';
import { maxPersonDiff, randomPerson } from './helpers.ts';

const model = nn.withInit({ seed: 0 }, () => new LearnedAlignment({ hidden_size: 16, num_attention_heads: 2, intermediate_size: 32 }));

test('loss (eq. 12): mean Euclidean distance over the visible keypoints, by hand', () => {
  // Frame 0: distances 5 (3-4-5), 0, and a hidden point 100 away; frame 1: distances 1 and sqrt(2).
  const aligned = torch.tensor([[[3, 4], [1, 1], [100, 0]], [[0, 1], [1, 1], [0, 0]]]);
  const target = torch.tensor([[[0, 0], [1, 1], [0, 0]], [[0, 0], [0, 0], [0, 0]]]);
  const mask = torch.tensor([[1, 1, 0], [1, 1, 0]]);
  const loss = alignmentLoss(aligned, target, mask).item();
  assert.ok(Math.abs(loss - (5 + 0 + 1 + Math.SQRT2) / 4) < 1e-6, `loss ${loss}`);
  // The gradient is the unit direction over the count: d/d aligned[0,0] = (3,4)/5/4.
  const a = aligned.clone().requiresGrad_();
  alignmentLoss(a, target, mask).backward();
  const g = a.grad!.toArray();
  [0.15, 0.2].forEach((v, i) => assert.ok(Math.abs(g[i]! - v) < 1e-6, `grad ${g}`));
  assert.equal(g[4], 0, 'a hidden point gets no gradient');
  assert.equal(g[2], 0, 'an exact match gets a zero (finite) gradient');
  assert.throws(() => alignmentLoss(aligned, target, torch.zeros([2, 3])), /no visible keypoint to measure/);
  assert.throws(() => alignmentLoss(aligned, target.narrow(1, 0, 2), mask), /aligned \[2,3,2\] and target \[2,2,2\] differ/);
  assert.throws(() => alignmentLoss(aligned, target, torch.ones([2, 2])), /mask \[2,2\] does not match/);
});

const size: FrameSize = [576, 1024];
const hidden = (p: PersonPose): PersonPose => ({ ...p, body: p.body.map((k): Keypoint => [k[0], k[1], 0]) });

test('invalid inputs: no visible keypoints, mismatched keypoint counts, empty sequences give clear errors', () => {
  const rng = createRng(1);
  const ref = randomPerson(rng);
  const drv = randomPerson(rng);
  assert.throws(() => alignSequenceLearned(model, ref, [hidden(drv)], { refSize: size }), /no keypoint is visible in both the reference and the driven pose/);
  assert.throws(() => alignSequenceLearned(model, hidden(ref), [drv], { refSize: size }), /no keypoint is visible in both/);
  const short: PersonPose = { ...drv, body: drv.body.slice(0, 17) };
  assert.throws(() => alignSequenceLearned(model, ref, [short], { refSize: size }), /keypoint counts differ.*reference has 18, driven has 17/);
  assert.throws(() => alignSequenceLearned(model, ref, [], { refSize: size }), /alignSequenceLearned: the driven sequence is empty/);
  const svd = makeSimilarity(0, 1, [0, 0], size);
  assert.throws(() => buildAlignmentBatch([]), /no \(reference, driven\) pairs/);
  assert.throws(() => buildAlignmentBatch([{ reference: ref, driven: hidden(drv), refSize: size, drivenSize: size, svd }]), /pair 0: the driven pose has no visible keypoint/);
  assert.throws(() => buildAlignmentBatch([{ reference: ref, driven: short, refSize: size, drivenSize: size, svd }]), /pair 0 has 18 reference and 17 driven keypoints, expected 18/);
  assert.throws(() => buildAlignmentBatch([{ reference: ref, driven: drv, refSize: [0, 10], drivenSize: size, svd }]), /frame size must be positive, got \[0, 10\]/);
  for (const method of ['learned', 'svd', 'polyfit', 'none'] as const) {
    assert.throws(() => alignPoseFrames({ persons: [ref] }, [], { method, model, refSize: size }), /alignPoseFrames: the driven sequence is empty/);
  }
  assert.throws(() => alignPoseFrames({ persons: [] }, [{ persons: [drv] }], { method: 'svd', refSize: size }), /the reference frame has no person/);
  assert.throws(() => alignPoseFrames({ persons: [hidden(ref)] }, [{ persons: [drv] }], { method: 'learned', model, refSize: size }), /the reference frame has no person with at least two visible body keypoints/);
  assert.throws(() => alignPoseFrames({ persons: [ref] }, [{ persons: [hidden(drv)] }, { persons: [] }], { method: 'svd', refSize: size }), /no driven frame has a person with at least two visible body keypoints/);
  assert.throws(() => alignPoseFrames({ persons: [ref] }, [{ persons: [drv] }], { method: 'learned', refSize: size }), /method 'learned' needs a model/);
});

test('several persons: matched left to right (largest kept), each aligned to its own reference; extras follow the nearest', () => {
  const rng = createRng(2);
  // Two reference persons: a small one on the left, a big one on the right.
  const place = (p: PersonPose, k: number, ox: number): PersonPose => applySimilarity(p, [k, 0, ox, 0, k, 0.2]);
  const left = place(randomPerson(rng), 0.3, 0.05);
  const right = place(randomPerson(rng), 0.5, 0.45);
  const reference = { persons: [right, left] };
  // Driven frames: the same two persons moved by one similarity, listed in the other order, plus a tiny third
  // person (no match: it follows the nearest matched person).
  const sims = [similarityAboutCentre(0.3, 0.7, [0.1, -0.05], size), similarityAboutCentre(-0.2, 1.3, [-0.1, 0.1], size)];
  const tiny = place(randomPerson(rng), 0.05, 0.1);
  const driven = sims.map((sim) => ({ persons: [applySimilarity(left, sim), applySimilarity(tiny, sim), applySimilarity(right, sim)] }));
  const m = matchPersons(reference.persons, driven[0]!.persons, size);
  assert.deepEqual(m.pairs, [[1, 0], [0, 2]]);
  assert.deepEqual(m.unmatched, [1]);
  for (const method of ['svd', 'learned'] as const) {
    const out = alignPoseFrames(reference, driven, { method, model, refSize: size });
    for (const frame of out.frames) {
      assert.equal(frame.persons.length, 3);
      assert.ok(maxPersonDiff(frame.persons[0]!, left) < 1e-9, `${method}: left person ${maxPersonDiff(frame.persons[0]!, left)}`);
      assert.ok(maxPersonDiff(frame.persons[2]!, right) < 1e-9, `${method}: right person`);
      assert.ok(maxPersonDiff(frame.persons[1]!, tiny) < 1e-9, `${method}: the unmatched person moves with its nearest neighbour`);
    }
  }
  // 'none' keeps coordinates; 'polyfit' fits the first reference person over single-person frames only.
  const none = alignPoseFrames(reference, driven, { method: 'none', refSize: size });
  assert.deepEqual(none.frames, driven);
  assert.throws(() => alignPoseFrames(reference, driven, { method: 'polyfit', refSize: size }), /none of the 2 driven frames has exactly one person/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applySimilarity, invertSimilarity } from '../../src/pose/similarity.ts';
import {
  DEFAULT_PERTURBATION, makeAlignmentSamples, perturbPerson, samplePerturbation, splitBySequence,
} from '../../src/pose/motion-data.ts';
import type { NamedSequence } from '../../src/pose/motion-data.ts';
import { createRng } from '../../src/util/rng.ts';
import { assertNear, maxPersonDiff, randomPerson } from './helpers.ts';

test('rng: deterministic per seed, ranges respected, fork independent', () => {
  const a = createRng(42);
  const b = createRng(42);
  const xs = Array.from({ length: 1000 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b.next()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assertNear(mean, 0.5, 0.03, 'mean of uniform');
  assert.notDeepEqual(createRng(43).next(), xs[0]);
  const r = createRng(1);
  for (let i = 0; i < 1000; i++) {
    const s = r.logUniform(0.5, 2);
    assert.ok(s >= 0.5 && s <= 2);
    assert.ok(r.int(7) < 7);
  }
  const forked = createRng(42).fork();
  assert.notEqual(forked.next(), xs[0]);
  assert.deepEqual(createRng(3).shuffle([1, 2, 3, 4, 5]).sort(), [1, 2, 3, 4, 5]);
  assert.throws(() => r.int(0), /positive integer/);
});

test('perturbation: default ranges, and inverting it recovers the ground truth exactly', () => {
  assert.deepEqual(DEFAULT_PERTURBATION, { maxRotationDeg: 30, scale: [0.5, 2], maxShift: 0.25 });
  const rng = createRng(8);
  const size = [576, 1024] as const;
  for (let i = 0; i < 50; i++) {
    const p = samplePerturbation(rng, size);
    assert.ok(Math.abs(p.rotationDeg) <= 30 && p.scale >= 0.5 && p.scale <= 2);
    assert.ok(Math.abs(p.shift[0]) <= 0.25 && Math.abs(p.shift[1]) <= 0.25);
    const truth = randomPerson(rng);
    const moved = perturbPerson(truth, p);
    const back = applySimilarity(moved, invertSimilarity(p.similarity, size));
    assert.ok(maxPersonDiff(back, truth) < 1e-12);
  }
  // About the frame centre: with no shift the centre stays put; the shift moves it by shift·(W, H).
  const p = samplePerturbation(createRng(1), size, { maxShift: 0 });
  const m = p.similarity.matrix;
  assertNear(m[0] * 0.5 + m[1] * 0.5 + m[2], 0.5, 1e-12, 'centre x');
  assertNear(m[3] * 0.5 + m[4] * 0.5 + m[5], 0.5, 1e-12, 'centre y');
  const q = samplePerturbation(createRng(1), size, { maxRotationDeg: 0, scale: [1, 1] });
  const n = q.similarity.matrix;
  assertNear(n[2], q.shift[0], 1e-12, 'pure shift x');
  assertNear(n[5], q.shift[1], 1e-12, 'pure shift y');
});

function fakeSequences(): NamedSequence[] {
  const rng = createRng(4);
  const make = (name: string, source: 'bvh' | 'dwpose', frames: number): NamedSequence => ({
    name, source, sequence: { size: [512, 768], frames: Array.from({ length: frames }, () => ({ persons: [randomPerson(rng)] })) },
  });
  return [make('a', 'bvh', 30), make('b', 'bvh', 30), make('c', 'bvh', 30), make('d', 'bvh', 30),
    make('e', 'dwpose', 30), make('f', 'dwpose', 30), make('g', 'dwpose', 30)];
}

test('samples: same-sequence reference, perturbed driven clip with its ground truth', () => {
  const seqs = fakeSequences();
  seqs[0]!.sequence.frames[5] = { persons: [] };
  const samples = makeAlignmentSamples(seqs, createRng(0), { samplesPerSequence: 5, clipLength: 4, maxReferenceGap: 3 });
  assert.equal(samples.length, 35);
  for (const s of samples) {
    const seq = seqs.find((q) => q.name === s.sequence)!.sequence;
    assert.equal(s.driven.length, 4);
    assert.deepEqual(s.drivenIndices, [0, 1, 2, 3].map((i) => s.drivenIndices[0]! + i));
    assert.ok(Math.abs(s.referenceIndex - s.drivenIndices[0]!) <= 3);
    assert.equal(s.reference, seq.frames[s.referenceIndex]!.persons[0]);
    s.drivenIndices.forEach((f, i) => {
      assert.equal(s.target[i], seq.frames[f]!.persons[0]);
      assert.ok(maxPersonDiff(s.driven[i]!, applySimilarity(s.target[i]!, s.perturbation.similarity)) < 1e-15);
    });
    if (s.sequence === 'a') assert.ok(!s.drivenIndices.includes(5) && s.referenceIndex !== 5);
  }
  const again = makeAlignmentSamples(seqs, createRng(0), { samplesPerSequence: 5, clipLength: 4, maxReferenceGap: 3 });
  assert.deepEqual(again.map((s) => [s.referenceIndex, s.drivenIndices[0]]), samples.map((s) => [s.referenceIndex, s.drivenIndices[0]]));
  assert.throws(() => makeAlignmentSamples([], createRng(0)), /no sequences/);
  assert.throws(() => makeAlignmentSamples(seqs, createRng(0), { clipLength: 31 }), /sequence "a" has no 31 consecutive frames/);
});

test('split by sequence: disjoint, every source in validation, deterministic, explicit names', () => {
  const seqs = fakeSequences();
  const { train, val } = splitBySequence(seqs, { seed: 0 });
  assert.equal(train.length + val.length, seqs.length);
  assert.ok(!train.some((t) => val.includes(t)));
  assert.deepEqual(val.map((s) => s.source).sort(), ['bvh', 'dwpose']);
  assert.deepEqual(splitBySequence(seqs, { seed: 0 }).val.map((s) => s.name), val.map((s) => s.name));
  const named = splitBySequence(seqs, { valNames: ['b', 'g'] });
  assert.deepEqual(named.val.map((s) => s.name), ['b', 'g']);
  assert.throws(() => splitBySequence(seqs, { valNames: ['zz'] }), /no sequence named "zz"/);
});

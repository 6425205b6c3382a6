// The demo's evaluation case: deterministic, the driving poses are the ground truth under one similarity, and an
// aligner that undoes it brings Dis down; CSIM of the ground truth itself is high, of another identity lower.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alignPoseFrames } from '../../src/align/align-frames.ts';
import { applySimilarity } from '../../src/pose/similarity.ts';
import { caseCsim, caseDis, referenceEmbedding } from '../../src/mini/animate-case.ts';
import { heldOutCase } from '../../src/mini/held-out-case.ts';
import { loadFaceIdWeights } from '../../src/mini/face-id.ts';
import { runIdentities } from '../../src/mini/synth/dataset.ts';
import { loadMotionFile } from '../../src/mini/synth/motion.ts';

const MOTION = new URL('../../assets/motion/bvh/ad_dab.bvh', import.meta.url).pathname;

test('heldOutCase: deterministic; driving = truth under the perturbation; alignment lowers Dis', async () => {
  const motion = await loadMotionFile(MOTION);
  assert.equal(motion.name, 'ad_dab');
  const [a, b] = runIdentities(0, 6).slice(4);
  const c = heldOutCase({ identity: a!, motion, frames: 6, size: 128, seed: 3 });
  const again = heldOutCase({ identity: a!, motion, frames: 6, size: 128, seed: 3 });
  assert.deepEqual(again.reference.data, c.reference.data);
  assert.deepEqual(again.driving, c.driving);
  assert.equal(c.truth.length, 6);
  assert.equal(c.truthPoses.length, 6);
  assert.ok(c.referenceFaceBox[2] > c.referenceFaceBox[0] && c.referenceFaceBox[3] > c.referenceFaceBox[1]);
  const p0 = c.truthPoses[0]!.persons[0]!;
  assert.deepEqual(c.driving[0]!.persons[0], applySimilarity(p0, c.perturbation.similarity));
  assert.ok(Math.abs(c.perturbation.scale - 1) > 0 || c.perturbation.rotationDeg !== 0);

  const misaligned = caseDis(c, c.driving);
  const svd = caseDis(c, alignPoseFrames(c.referencePose, c.driving, { method: 'svd', refSize: [128, 128] }).frames);
  assert.equal(caseDis(c, c.truthPoses), 0);
  assert.ok(misaligned > 0.02, `misaligned Dis ${misaligned}`);
  assert.ok(svd < misaligned / 2, `svd Dis ${svd} vs misaligned ${misaligned}`);

  // CSIM: the ground truth's own faces match the reference far better than another identity's do
  const net = loadFaceIdWeights(new URL('../../weights/faceid', import.meta.url).pathname);
  const ref = referenceEmbedding(net, c);
  const self = caseCsim(net, c, ref, c.truth);
  const other = heldOutCase({ identity: b!, motion, frames: 6, size: 128, seed: 3 });
  const cross = caseCsim(net, c, ref, other.truth);
  assert.ok(self > 0.5, `CSIM of the ground truth ${self}`);
  assert.ok(cross < self - 0.1, `CSIM of another identity ${cross} vs ${self}`);
});

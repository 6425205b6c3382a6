// The learnable alignment block: shapes, PyTorch state-dict names, masks, identity initialisation (= the SVD
// fit), the residual transform (tensor path vs the composed similarity), and weights round trip.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { batchToTensors, buildAlignmentBatch } from '../../src/align/alignment-features.ts';
import type { AlignmentPair } from '../../src/align/alignment-features.ts';
import { LearnedAlignment, parseAlignmentConfig } from '../../src/align/learned-alignment.ts';
import { alignSequenceLearned, learnedTransforms } from '../../src/align/learned-transforms.ts';
import { applyCorrection, aspectToNormalized, composeCorrection } from '../../src/align/residual-similarity.ts';
import { alignSequenceSvd, fitSimilarity } from '../../src/align/similarity-fit.ts';
import { applySimilarity, similarityAboutCentre } from '../../src/pose/similarity.ts';
import type { FrameSize } from '../../src/pose/similarity.ts';
import type { Keypoint, PersonPose } from '../../src/pose/keypoints.ts';
import { saveAlignmentWeights } from '../../src/align/train.ts';
import { createRng } from '../../src/util/rng.ts';
import type { Rng } from '../../src/util/rng.ts';
import { maxPersonDiff, randomPerson } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'learned-align-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SMALL = { hidden_size: 16, num_attention_heads: 2, intermediate_size: 32 };

/** A model whose head is not zero, so that the correction is non-trivial. */
function randomisedModel(seed: number): LearnedAlignment {
  const model = nn.withInit({ seed }, () => new LearnedAlignment(SMALL));
  const g = new torch.Generator(seed + 100);
  torch.noGrad(() => {
    for (const p of model.parameters()) p.add_(torch.randn(p.shape, g).mul(0.2));
  });
  return model.eval();
}

function pairFor(rng: Rng, size: FrameSize, drivenSize: FrameSize = size): AlignmentPair {
  const reference = randomPerson(rng);
  const sim = similarityAboutCentre(rng.uniform(-0.5, 0.5), rng.uniform(0.6, 1.5), [rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)], size);
  const driven = applySimilarity(randomPerson(rng), sim);
  return { reference, driven, refSize: size, drivenSize, svd: fitSimilarity(reference, driven, { refSize: size, drivenSize }) };
}

function hide(person: PersonPose, ids: number[]): PersonPose {
  return { ...person, body: person.body.map((k, i) => (ids.includes(i) ? [k[0], k[1], 0.1] : k)) };
}

test('forward: [B, 18, 6] tokens and [B, 18, 3] guide -> [B, 4]; state dict keys use the PyTorch names', () => {
  const model = nn.withInit({ seed: 1 }, () => new LearnedAlignment());
  const rng = createRng(3);
  const batch = buildAlignmentBatch(Array.from({ length: 5 }, () => pairFor(rng, [576, 1024])));
  const params = torch.noGrad(() => model.forward(batchToTensors(batch)));
  assert.deepEqual(params.shape, [5, 4]);
  const keys = [...model.stateDict().keys()];
  for (const key of [
    'pose_encoder.proj_in.weight', 'pose_encoder.pos_embed', 'pose_encoder.layers.1.self_attn.in_proj_weight',
    'pose_encoder.layers.0.self_attn.out_proj.bias', 'pose_encoder.layers.0.linear1.weight', 'pose_encoder.layers.0.norm2.bias',
    'guide_encoder.norm.weight', 'fusion_blocks.3.multihead_attn.in_proj_bias', 'fusion_blocks.0.linear2.weight',
    'norm_out.weight', 'head.0.weight', 'head.2.bias',
  ]) assert.ok(keys.includes(key), `missing key ${key}`);
  assert.equal(model.stateDict().get('pose_encoder.layers.0.self_attn.in_proj_weight')!.shape.join(), '192,64');
  assert.equal(model.stateDict().get('pose_encoder.pos_embed')!.shape.join(), '18,64');
  assert.equal(keys.filter((k) => k.startsWith('fusion_blocks.')).length, 4 * 12); // attention 4, two linears 4, two norms 4
  assert.throws(() => model.forward({ ...batchToTensors(batch), tokens: torch.zeros([5, 17, 6]) }), /tokens must be \[B, 18, 6\], got \[5,17,6\]/);
});

test('masks: a missing keypoint (score < 0.3) changes nothing, whatever its coordinates', () => {
  const model = randomisedModel(2);
  const rng = createRng(4);
  const base = pairFor(rng, [768, 512]);
  const pair: AlignmentPair = { ...base, reference: hide(base.reference, [3, 9]), driven: hide(base.driven, [4, 9, 16]) };
  // Refit so the SVD itself ignores the hidden points (it does: only points visible in both are used).
  pair.svd = fitSimilarity(pair.reference, pair.driven, { refSize: pair.refSize });
  const moved: AlignmentPair = {
    ...pair,
    reference: { ...pair.reference, body: pair.reference.body.map((k, i) => (i === 3 || i === 9 ? [k[0] + 0.37, k[1] - 0.81, k[2]] : k)) },
    driven: { ...pair.driven, body: pair.driven.body.map((k, i) => ([4, 9, 16].includes(i) ? [5 * k[0], -3, k[2]] : k)) },
  };
  moved.svd = fitSimilarity(moved.reference, moved.driven, { refSize: moved.refSize });
  const out = (p: AlignmentPair) => torch.noGrad(() => model.forward(batchToTensors(buildAlignmentBatch([p]))).toArray());
  const a = out(pair);
  const b = out(moved);
  assert.deepEqual(b, a);
  assert.ok(a.some((v) => Math.abs(v) > 1e-3), `the randomised model predicts a non-trivial correction: ${a}`);
  // Directly on the tensors: garbage in the masked slots, batched with other frames, leaves every output alone.
  const batch = buildAlignmentBatch([pair, base]);
  const t = batchToTensors(batch);
  const ref = torch.noGrad(() => model.forward(t).toArray());
  const tokens = t.tokens.clone();
  const guide = t.guide.clone();
  torch.noGrad(() => {
    const tm = t.tokenMask.unsqueeze(2);
    tokens.copy_(tokens.add(torch.fullLike(tokens, 1234.5).mul(tm.neg().add(1))));
    guide.copy_(guide.add(torch.fullLike(guide, -777).mul(t.guideMask.unsqueeze(2).neg().add(1))));
  });
  // Frame 0 has a token missing on both sides (id 9): its token row is masked out entirely.
  assert.equal(batch.tokenMask[9], 0);
  const changed = torch.noGrad(() => model.forward({ ...t, tokens, guide }).toArray());
  assert.deepEqual(changed, ref);
  // A present keypoint does change the output (the check above is not vacuous).
  const shifted = { ...pair, driven: { ...pair.driven, body: pair.driven.body.map((k, i): Keypoint => (i === 0 ? [k[0] + 0.05, k[1], k[2]] : k)) } };
  assert.notDeepEqual(out(shifted), a);
});

test('identity initialisation: an untrained block returns exactly the SVD fit', () => {
  const model = nn.withInit({ seed: 5 }, () => new LearnedAlignment());
  const rng = createRng(6);
  const reference = randomPerson(rng);
  const size: FrameSize = [576, 1024];
  const driven = Array.from({ length: 9 }, () => applySimilarity(randomPerson(rng), similarityAboutCentre(rng.uniform(-0.5, 0.5), rng.uniform(0.5, 2), [0.1, -0.2], size)));
  const svd = alignSequenceSvd(reference, driven, { refSize: size });
  const learned = alignSequenceLearned(model, reference, driven, { refSize: size });
  learned.aligned.forEach((p, i) => assert.ok(maxPersonDiff(p, svd.aligned[i]!) < 1e-12, `frame ${i}: ${maxPersonDiff(p, svd.aligned[i]!)}`));
  learned.transforms.forEach((t, i) => t.matrix.forEach((v, k) => assert.ok(Math.abs(v - svd.transforms[i]!.matrix[k]!) < 1e-12)));
});

test('the composed similarity equals the tensor path (SVD-aligned points corrected in aspect space), non-square frames', () => {
  const model = randomisedModel(7);
  const rng = createRng(8);
  const pairs = [pairFor(rng, [576, 1024]), pairFor(rng, [1280, 720]), pairFor(rng, [512, 512], [720, 1280])];
  const batch = buildAlignmentBatch(pairs);
  const t = batchToTensors(batch);
  const aligned = torch.noGrad(() => model.alignPoints(t).aligned.to('f64').toArray());
  const transforms = learnedTransforms(model, pairs);
  pairs.forEach((pair, b) => {
    const viaSim = applySimilarity(pair.driven, transforms[b]!).body;
    viaSim.forEach(([x, y], k) => {
      const i = (b * 18 + k) * 2;
      assert.ok(Math.abs(x - aligned[i]!) < 2e-5 && Math.abs(y - aligned[i + 1]!) < 2e-5, `pair ${b} point ${k}: (${x}, ${y}) vs (${aligned[i]}, ${aligned[i + 1]})`);
    });
    assert.ok(Math.abs(transforms[b]!.angle - pair.svd.angle) > 1e-4, 'the correction rotates');
  });
});

test('applyCorrection on a hand-computed case: rotate 90 degrees, scale 2 about the centroid, then shift', () => {
  // Points (1,0) and (3,0): centroid (2,0). θ = 90°, s = 2: (1,0) -> (2,0) + 2·R·(-1,0) = (2,-2); (3,0) -> (2,2). t = (0.5, 1).
  const params = torch.tensor([[Math.PI / 2, Math.log(2), 0.5, 1]]);
  const points = torch.tensor([[[1, 0], [3, 0]]]);
  const out = applyCorrection(params, points, torch.tensor([[2, 0]])).toArray();
  [2.5, -1, 2.5, 3].forEach((v, i) => assert.ok(Math.abs(out[i]! - v) < 1e-6, `${out}`));
  // Aspect -> normalised for a 1000x500 frame: [S/W, S/H] = [1, 2], plus 0.5.
  const norm = aspectToNormalized(torch.tensor([[[0.1, 0.2]]]), torch.tensor([[1, 2]])).toArray();
  assert.ok(Math.abs(norm[0]! - 0.6) < 1e-6 && Math.abs(norm[1]! - 0.9) < 1e-6);
  // composeCorrection with an identity SVD reproduces the same map in normalised coordinates.
  const size: FrameSize = [1000, 1000];
  const identity = fitSimilarity(
    { body: [[0.1, 0.1, 1], [0.9, 0.3, 1]] as PersonPose['body'], hands: [[], []], face: [] },
    { body: [[0.1, 0.1, 1], [0.9, 0.3, 1]] as PersonPose['body'], hands: [[], []], face: [] },
    { refSize: size },
  );
  const sim = composeCorrection(identity, [Math.PI / 2, Math.log(2), 0.05, 0.1], [0.2, 0], size, size);
  // Aspect point (0.1, 0) is normalised (0.6, 0.5): -> aspect (0.2,0) + 2·R·(-0.1,0) + t = (0.25, -0.1) -> (0.75, 0.4).
  const m = sim.matrix;
  assert.ok(Math.abs(m[0] * 0.6 + m[1] * 0.5 + m[2] - 0.75) < 1e-12 && Math.abs(m[3] * 0.6 + m[4] * 0.5 + m[5] - 0.4) < 1e-12, `${m}`);
});

test('weights: saveAlignmentWeights -> LearnedAlignment.fromPretrained gives the same predictions; config validation', async () => {
  const model = randomisedModel(9);
  await saveAlignmentWeights(join(dir, 'w'), model);
  const loaded = LearnedAlignment.fromPretrained(join(dir, 'w'));
  assert.deepEqual(loaded.config, model.config);
  const rng = createRng(10);
  const t = batchToTensors(buildAlignmentBatch([pairFor(rng, [512, 512]), pairFor(rng, [512, 512])]));
  assert.deepEqual(torch.noGrad(() => loaded.forward(t).toArray()), torch.noGrad(() => model.forward(t).toArray()));
  assert.throws(() => parseAlignmentConfig({ hidden_size: 0 }, 'c.json'), /c\.json: "hidden_size" must be a positive integer, got 0/);
  assert.throws(() => LearnedAlignment.fromPretrained(join(dir, 'nowhere')), /cannot read .*nowhere\/config\.json/);
});

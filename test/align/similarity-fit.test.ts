import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DegenerateFitError, alignSequenceSvd, det2, fitSimilarity, fitSimilarityPoints, matMul2, svd2x2, transpose2,
} from '../../src/align/similarity-fit.ts';
import type { Mat2 } from '../../src/align/similarity-fit.ts';
import {
  applySimilarity, invertSimilarity, makeSimilarity, similarityAboutCentre,
} from '../../src/pose/similarity.ts';
import type { PersonPose } from '../../src/pose/keypoints.ts';
import { createRng } from '../../src/util/rng.ts';
import { assertNear, maxPersonDiff, randomPerson } from './helpers.ts';

function reconstruct(u: Mat2, s: [number, number], v: Mat2): Mat2 {
  return matMul2(matMul2(u, [s[0], 0, 0, s[1]]), transpose2(v));
}

test('svd2x2 is an exact SVD: U S V^T = M, orthogonal factors, ordered non-negative values', () => {
  const rng = createRng(7);
  const cases: Mat2[] = [[0, 0, 0, 0], [1, 0, 0, -1], [2, 0, 0, 3], [0, 1, 1, 0], [1, 2, 2, 4], [3, -1, 5, 2]];
  for (let i = 0; i < 200; i++) cases.push([rng.normal(), rng.normal(), rng.normal(), rng.normal()].map((x) => x * 100) as Mat2);
  for (const m of cases) {
    const { u, s, v } = svd2x2(m);
    const r = reconstruct(u, s, v);
    const mag = Math.max(1, ...m.map(Math.abs));
    for (let k = 0; k < 4; k++) assertNear(r[k]!, m[k]!, 1e-12 * mag, `USV^T[${k}] of ${m}`);
    assert.ok(s[0] >= s[1] && s[1] >= 0, `singular values ${s}`);
    for (const q of [u, v]) {
      const qtq = matMul2(transpose2(q), q);
      [1, 0, 0, 1].forEach((e, k) => assertNear(qtq[k]!, e, 1e-12, 'orthogonality'));
    }
    assertNear(Math.abs(det2(m)), s[0] * s[1], 1e-10 * mag * mag, '|det| = s0 s1');
  }
});

test('the fit recovers a known similarity exactly, across frames of different aspect', () => {
  const rng = createRng(1);
  const refSize = [512, 768] as const;
  const drivenSize = [640, 480] as const;
  for (const [angle, scale, t] of [[0.4, 1.7, [30, -12]], [-2.9, 0.35, [-100, 250]], [Math.PI / 2, 1, [0, 0]]] as const) {
    const truth = makeSimilarity(angle, scale, t, drivenSize, refSize);
    const driven = randomPerson(rng);
    const reference = applySimilarity(driven, truth);
    const fit = fitSimilarity(reference, driven, { refSize, drivenSize });
    assertNear(fit.angle, angle, 1e-9, 'angle');
    assertNear(fit.scale, scale, 1e-9, 'scale');
    assertNear(fit.translation[0], t[0], 1e-9, 'tx (px)');
    assertNear(fit.translation[1], t[1], 1e-9, 'ty (px)');
    fit.matrix.forEach((v, k) => assertNear(v, truth.matrix[k]!, 1e-9, `matrix[${k}]`));
    assertNear(det2(fit.rotation), 1, 1e-12, 'det R');
    assert.equal(fit.count, 18);
    assert.ok(fit.rmsPixels < 1e-9, `rms ${fit.rmsPixels}`);
    // The fitted map carries the hands and face along too.
    assert.ok(maxPersonDiff(applySimilarity(driven, fit), reference) < 1e-9);
  }
});

test('the rotation is a true image rotation on a non-square frame (fit in pixel units)', () => {
  const size = [400, 800] as const;
  const sim = similarityAboutCentre(Math.PI / 2, 1, [0, 0], size);
  // A horizontal segment of 100 px becomes a vertical one of 100 px.
  const m = sim.matrix;
  const a = [m[0] * 0.5 + m[1] * 0.5 + m[2], m[3] * 0.5 + m[4] * 0.5 + m[5]];
  const b = [m[0] * 0.75 + m[1] * 0.5 + m[2], m[3] * 0.75 + m[4] * 0.5 + m[5]];
  assertNear((b[0]! - a[0]!) * 400, 0, 1e-9, 'dx px');
  assertNear((b[1]! - a[1]!) * 800, 100, 1e-9, 'dy px');
});

test('missing keypoints are left out of the fit', () => {
  const rng = createRng(2);
  const size = [576, 1024] as const;
  const truth = makeSimilarity(0.3, 0.8, [40, 60], size);
  const driven = randomPerson(rng);
  const reference = applySimilarity(driven, truth);
  // Garbage where either side is missing: must not matter.
  const missing = [0, 3, 9, 10, 12, 13, 17];
  missing.forEach((i, n) => {
    if (n % 2 === 0) reference.body[i] = [5, -7, 0];
    else driven.body[i] = [-3, 9, 0.1];
  });
  const fit = fitSimilarity(reference, driven, { refSize: size });
  assert.equal(fit.count, 18 - missing.length);
  assertNear(fit.angle, 0.3, 1e-9, 'angle');
  assertNear(fit.scale, 0.8, 1e-9, 'scale');
  assertNear(fit.translation[0], 40, 1e-9, 'tx');
  assertNear(fit.translation[1], 60, 1e-9, 'ty');
  // With two points the fit is still exact.
  const xyR = [0.2, 0.3, 0.6, 0.5, 9, 9];
  const xyD = [0.1, 0.1, 0.4, 0.3, -9, 4];
  const two = fitSimilarityPoints(xyR, xyD, [1, 1, 0], { refSize: [100, 100] });
  assert.equal(two.count, 2);
  assert.ok(two.rmsPixels < 1e-9);
});

test('reflection fix: when the best orthogonal map is a mirror, the fit keeps det R = +1 and is the best rotation', () => {
  const rng = createRng(3);
  const n = 18;
  const ref = Array.from({ length: 2 * n }, () => rng.uniform(0.2, 0.8));
  const drv = ref.map((v, i) => (i % 2 === 0 ? 1 - v : v) + 0.01 * rng.normal()); // mirrored in x
  const mask = new Array(n).fill(1);
  const size = [300, 300] as const;
  const fit = fitSimilarityPoints(ref, drv, mask, { refSize: size });
  assertNear(det2(fit.rotation), 1, 1e-12, 'det R');
  // Unconstrained orthogonal Procrustes would pick U V^T with det -1 here.
  const { u, v } = svd2x2(covariance(ref, drv, size));
  assert.ok(det2(matMul2(u, transpose2(v))) < 0, 'the test case must be reflection-dominated');
  // The fit's residual is the minimum over all rotations (scale optimal per angle), checked by brute force.
  const bestBrute = Math.min(...Array.from({ length: 3600 }, (_, k) => rotationResidual(ref, drv, size, (k / 3600) * 2 * Math.PI)));
  const fitResidual = fit.rmsPixels * fit.rmsPixels * n;
  assert.ok(fitResidual <= bestBrute + 1e-9, `fit residual ${fitResidual} > brute ${bestBrute}`);
  assertNear(fitResidual, rotationResidual(ref, drv, size, fit.angle), 1e-6, 'reported residual');
});

function covariance(ref: number[], drv: number[], size: readonly [number, number]): Mat2 {
  const n = ref.length / 2;
  const c = (a: number[], k: number) => a.filter((_, i) => i % 2 === k).reduce((s, x) => s + x, 0) / n;
  const [mrx, mry, mdx, mdy] = [c(ref, 0), c(ref, 1), c(drv, 0), c(drv, 1)];
  const m: Mat2 = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const rx = (ref[2 * i]! - mrx) * size[0], ry = (ref[2 * i + 1]! - mry) * size[1];
    const dx = (drv[2 * i]! - mdx) * size[0], dy = (drv[2 * i + 1]! - mdy) * size[1];
    m[0] += rx * dx; m[1] += rx * dy; m[2] += ry * dx; m[3] += ry * dy;
  }
  return m;
}

function rotationResidual(ref: number[], drv: number[], size: readonly [number, number], angle: number): number {
  const n = ref.length / 2;
  const pts = (a: number[]) => Array.from({ length: n }, (_, i) => [a[2 * i]! * size[0], a[2 * i + 1]! * size[1]] as const);
  const r = pts(ref), d = pts(drv);
  const mean = (p: (readonly [number, number])[]) => [p.reduce((s, q) => s + q[0], 0) / n, p.reduce((s, q) => s + q[1], 0) / n];
  const [mrx, mry] = mean(r), [mdx, mdy] = mean(d);
  const c = Math.cos(angle), s = Math.sin(angle);
  let num = 0, den = 0, rr = 0;
  for (let i = 0; i < n; i++) {
    const dx = d[i]![0] - mdx!, dy = d[i]![1] - mdy!;
    const qx = c * dx - s * dy, qy = s * dx + c * dy;
    const rx = r[i]![0] - mrx!, ry = r[i]![1] - mry!;
    num += qx * rx + qy * ry; den += dx * dx + dy * dy; rr += rx * rx + ry * ry;
  }
  const k = Math.max(0, num / den);
  return rr - 2 * k * num + k * k * den;
}

test('fit errors: nothing visible, too few distinct points, mismatched counts, empty sequences', () => {
  const rng = createRng(4);
  const a = randomPerson(rng);
  const b = randomPerson(rng);
  const size = { refSize: [100, 100] as const };
  const hidden: PersonPose = { ...b, body: b.body.map(([x, y]) => [x, y, 0]) };
  assert.throws(() => fitSimilarity(a, hidden, size), /no keypoint is visible in both/);
  const onlyOne: PersonPose = { ...b, body: b.body.map(([x, y], i) => [x, y, i === 4 ? 1 : 0]) };
  assert.throws(() => fitSimilarity(a, onlyOne, size), /driven keypoint\(s\) used have no spread/);
  assert.throws(() => fitSimilarity(a, hidden, size), DegenerateFitError);
  assert.throws(() => fitSimilarityPoints([0, 0, 1, 1], [0, 0], [1, 1], size), /keypoint counts differ: reference has 2, driven has 1/);
  assert.throws(() => fitSimilarity(a, { ...b, body: b.body.slice(0, 17) }, size), /keypoint counts differ in pair 0: reference has 18, driven has 17/);
  assert.throws(() => alignSequenceSvd(a, [], size), /driven sequence is empty/);
});

test('alignSequenceSvd: per-frame and sequence modes undo a clip-wide similarity of a static pose', () => {
  const rng = createRng(5);
  const size = [576, 1024] as const;
  const pose = randomPerson(rng);
  const perturb = similarityAboutCentre(0.25, 1.6, [0.1, -0.2], size);
  const driven = [pose, pose, pose].map((p) => applySimilarity(p, perturb));
  for (const mode of ['per-frame', 'sequence'] as const) {
    const { aligned, transforms } = alignSequenceSvd(pose, driven, { refSize: size, mode });
    assert.equal(transforms.length, 3);
    for (const p of aligned) assert.ok(maxPersonDiff(p, pose) < 1e-9, mode);
  }
  // A frame with no usable points falls back to the sequence fit.
  const blank: PersonPose = { ...driven[0]!, body: driven[0]!.body.map(([x, y]) => [x, y, 0]) };
  const { aligned } = alignSequenceSvd(pose, [driven[0]!, blank], { refSize: size });
  assert.ok(maxPersonDiff(aligned[1]!, { ...pose, body: pose.body.map(([x, y]) => [x, y, 0]) }) < 1e-9);
});

test('invertSimilarity undoes a similarity between frames of different size', () => {
  const rng = createRng(6);
  const sim = makeSimilarity(1.1, 0.6, [12, -40], [640, 360], [512, 512]);
  const inv = invertSimilarity(sim, [640, 360], [512, 512]);
  const p = randomPerson(rng);
  assert.ok(maxPersonDiff(applySimilarity(applySimilarity(p, sim), inv), p) < 1e-12);
  assertNear(inv.scale, 1 / 0.6, 1e-15, 'scale');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { featureStats, frechetDistance, sqrtPsd } from '../../src/eval/frechet.ts';

const t = (rows: number[][]) => torch.tensor(rows, { dtype: 'f64' });
const v = (xs: number[]) => torch.tensor(xs, { dtype: 'f64' });

test('Frechet distance: commuting (diagonal) covariances in closed form', () => {
  const a = { mean: v([1, 2, 3]), cov: t([[4, 0, 0], [0, 9, 0], [0, 0, 1]]) };
  const b = { mean: v([0, 2, 5]), cov: t([[1, 0, 0], [0, 4, 0], [0, 0, 16]]) };
  // |dmu|^2 = 1 + 0 + 4; sum (sqrt(a_i) - sqrt(b_i))^2 = 1 + 1 + 9
  assert.ok(Math.abs(frechetDistance(a, b) - 16) < 1e-9);
  assert.ok(Math.abs(frechetDistance(a, a)) < 1e-9);
});

test('Frechet distance: non-commuting 2x2 covariances', () => {
  // For a 2x2 M with positive eigenvalues, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)).
  // Sa Sb = [[6, 1], [3, 2]]: trace 8, determinant 9 -> tr sqrt = sqrt(14).
  const a = { mean: v([0, 1]), cov: t([[2, 1], [1, 2]]) };
  const b = { mean: v([2, 0]), cov: t([[3, 0], [0, 1]]) };
  const expected = 5 + 4 + 4 - 2 * Math.sqrt(14);
  assert.ok(Math.abs(frechetDistance(a, b) - expected) < 1e-9, `${frechetDistance(a, b)} vs ${expected}`);
  assert.ok(Math.abs(frechetDistance(b, a) - expected) < 1e-9);
  // sqrtPsd squares back
  const r = sqrtPsd(a.cov);
  assert.ok(torch.allclose(r.matmul(r), a.cov, 1e-12, 1e-12));
});

test('feature statistics: mean and unbiased covariance by hand; identical sets are at distance 0', () => {
  const s = featureStats(t([[1, 2], [3, 4], [5, 9]]));
  assert.deepEqual(Array.from(s.mean.data<'f64'>()), [3, 5]);
  assert.deepEqual(Array.from(s.cov.data<'f64'>()), [4, 7, 7, 13]);
  const feats = torch.randn([64, 8], new torch.Generator(3));
  assert.ok(Math.abs(frechetDistance(featureStats(feats), featureStats(feats))) < 1e-8);
  // shifting every feature by c adds |c|^2 and nothing else
  const shifted = feats.add(0.5);
  assert.ok(Math.abs(frechetDistance(featureStats(feats), featureStats(shifted)) - 8 * 0.25) < 1e-8);
  assert.throws(() => featureStats(t([[1, 2]])), /expected features \[N >= 2, D\], got \[1,2\]/);
});

// The Frechet distance between two Gaussians fitted to feature sets (FVD on I3D features, FID on Inception):
//   d^2 = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)).
// tr((S_a S_b)^(1/2)) is computed as tr((A S_b A)^(1/2)) with A = S_a^(1/2): both matrices have the same
// eigenvalues, and the second is symmetric positive semi-definite, so its square root's trace is the sum
// of the square roots of its singular values. Everything in float64, square roots from SVDs.

import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';

export interface GaussianStats {
  /** [D] */
  mean: Tensor;
  /** [D, D], the unbiased covariance (numpy's np.cov, as the FVD/FID code uses). */
  cov: Tensor;
}

/** Mean and covariance of features [N, D] (N >= 2). */
export function featureStats(features: Tensor): GaussianStats {
  if (features.ndim !== 2 || features.size(0) < 2) throw new Error(`featureStats: expected features [N >= 2, D], got [${features.shape}]`);
  return torch.scope(() => {
    const x = features.double();
    const mean = x.mean([0]);
    const c = x.sub(mean);
    const cov = c.transpose(0, 1).matmul(c).div(x.size(0) - 1);
    return { mean, cov };
  });
}

/** Square root of a symmetric positive semi-definite matrix (negative rounding noise clamped to 0). */
export function sqrtPsd(m: Tensor): Tensor {
  return torch.scope(() => {
    const sym = m.add(m.transpose(0, 1)).div(2);
    const [u, s] = torch.svd(sym);
    // For a symmetric PSD matrix the SVD is its eigendecomposition (U = V).
    return u.mul(s.clampMin(0).sqrt().unsqueeze(0)).matmul(u.transpose(0, 1));
  });
}

/** tr((S_a S_b)^(1/2)) for covariances S_a, S_b. */
export function traceSqrtProduct(a: Tensor, b: Tensor): number {
  return torch.scope(() => {
    const ra = sqrtPsd(a.double());
    const [, s] = torch.svd(ra.matmul(b.double()).matmul(ra));
    return s.clampMin(0).sqrt().sum().item();
  });
}

/** The squared Frechet distance between two Gaussians (the number FID/FVD report). */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  if (a.mean.shape.join() !== b.mean.shape.join() || a.cov.shape.join() !== b.cov.shape.join()) {
    throw new Error(`frechetDistance: statistics of [${a.mean.shape}] and [${b.mean.shape}] features differ in size`);
  }
  return torch.scope(() => {
    const dm = a.mean.double().sub(b.mean.double()).square().sum().item();
    const tr = a.cov.double().diagonal().sum().item() + b.cov.double().diagonal().sum().item();
    return dm + tr - 2 * traceSqrtProduct(a.cov, b.cov);
  });
}

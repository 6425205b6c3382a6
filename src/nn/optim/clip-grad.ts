import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';

/** Scales gradients so that their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return torch.noGrad(() => torch.scope(() => {
    const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== undefined);
    if (grads.length === 0) return 0;
    const norms = torch.stack(grads.map((g) => g.norm(2, undefined, false, 'f32')));
    const total = norms.norm().item();
    const coef = maxNorm / (total + 1e-6);
    if (coef < 1) for (const g of grads) g.mul_(coef);
    return total;
  }));
}

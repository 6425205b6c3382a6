// Finite-difference gradient check (like torch.autograd.gradcheck), for f64 inputs.
import { grad, noGrad } from './autograd.ts';
import { randn } from './generated/ops.ts';
import { Generator } from './random.ts';
import { scope } from './scope.ts';
import { tensor, type Tensor } from './tensor.ts';

export interface GradcheckResult {
  maxAbsError: number;
  /** Per input: analytic and numeric gradient of sum(f(x) * w) for a fixed random w. */
  analytic: number[][];
  numeric: number[][];
}

/** Compares autograd with central differences of a random projection of fn's output. */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: { eps?: number; seed?: number } = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-6;
  return scope(() => {
    const xs = inputs.map((x) => x.detach().clone().requiresGrad_());
    const out = fn(...xs);
    const w = randn(out.shape, new Generator(opts.seed ?? 0), 'f64');
    const analytic = grad(out.mul(w).sum(), xs, { allowUnused: true })
      .map((g, i) => (g ? g.toArray() : new Array<number>(xs[i].numel).fill(0)));
    const numeric = xs.map((x) => {
      const base = x.detach().flatten().toArray();
      return base.map((_, j) => {
        const at = (delta: number) => noGrad(() => scope(() => {
          const v = Float64Array.from(base);
          v[j] += delta;
          const moved = xs.map((y) => (y === x ? tensor(v, { shape: x.shape }) : y.detach()));
          return fn(...moved).mul(w).sum().item();
        }));
        return (at(eps) - at(-eps)) / (2 * eps);
      });
    });
    let maxAbsError = 0;
    analytic.forEach((a, i) => a.forEach((v, j) => (maxAbsError = Math.max(maxAbsError, Math.abs(v - numeric[i][j])))));
    return { maxAbsError, analytic, numeric };
  });
}

// Two helpers that free intermediates as soon as the next one exists, so a block's peak memory is a
// couple of activations rather than all of them (native memory is otherwise freed at scope end).
// Disposing a handle never breaks autograd or views: the graph and views hold their own references.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';

/** x + f(x), f's intermediates freed; with `consume`, x (an intermediate itself) is freed too. */
export function residual(x: Tensor, f: (x: Tensor) => Tensor, consume = false): Tensor {
  const out = torch.scope(() => f(x).add(x));
  if (consume) x.dispose();
  return out;
}

/** f(x), f's intermediates and x freed (unless f returned x itself). */
export function consume(x: Tensor, f: (x: Tensor) => Tensor): Tensor {
  const out = torch.scope(() => f(x));
  if (out !== x) x.dispose();
  return out;
}

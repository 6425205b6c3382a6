// Gradient checkpointing of one layer call: its activations are not kept but recomputed in backward.
// Every tensor the layer reads must be passed in `inputs` (a closure over a tensor that a scope frees
// before backward would break the recomputation). Unlike diffusers, which checkpoints only in train
// mode, this applies whenever a graph is recorded: StableAnimator's HJB face loss backpropagates
// through the VAE decoder in eval mode.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import type * as nn from '../../nn/index.ts';
import { cpuAutocastDtype } from '../../torch/autograd.ts';

export type MaybeTensors = (Tensor | undefined)[];

export function checkpointed(enabled: boolean, module: nn.Module, fn: (inputs: MaybeTensors) => Tensor, inputs: MaybeTensors): Tensor {
  if (!enabled || !torch.isGradEnabled()) return fn(inputs);
  const present = inputs.map((t, i) => [t, i] as const).filter(([t]) => t !== undefined) as (readonly [Tensor, number])[];
  const args = present.map(([t]) => t);
  // The checkpoint node exists only when an input needs grad; with frozen inputs but trainable
  // weights inside, a dummy input that needs grad keeps the weights' gradients flowing.
  if (!args.some((t) => t.requiresGrad) && module.parameters().some((p) => p.requiresGrad)) {
    args.push(torch.zeros([1], 'f32').requiresGrad_());
  }
  // backward recomputes outside the caller's CPU autocast scope: re-enter it (as torch.utils.checkpoint does)
  const autocastDtype = cpuAutocastDtype();
  const [out] = torch.checkpoint((xs) => [torch.scope(() => {
    const call: MaybeTensors = inputs.map(() => undefined);
    present.forEach(([, i], j) => { call[i] = xs[j]; });
    return autocastDtype ? torch.autocast(autocastDtype, () => fn(call)) : fn(call);
  })], args);
  return out;
}

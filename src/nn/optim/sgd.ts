import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import { Optimizer, type ParamGroup } from './optimizer.ts';

type SgdState = { momentum_buffer: Tensor };

export class SGD extends Optimizer<SgdState> {
  constructor(params: Tensor[] | ParamGroup[], opts: { lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean }) {
    super(params, { lr: opts.lr, momentum: opts.momentum ?? 0, weightDecay: opts.weightDecay ?? 0, nesterov: opts.nesterov ?? false });
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup): void {
    const momentum = g.momentum as number;
    if (g.weightDecay) grad = grad.add(p, g.weightDecay as number);
    if (momentum) {
      let s = this.state.get(p);
      if (!s) {
        s = { momentum_buffer: torch.keep(grad.clone()) };
        this.state.set(p, s);
      } else {
        s.momentum_buffer.mul_(momentum).add_(grad);
      }
      grad = g.nesterov ? grad.add(s.momentum_buffer, momentum) : s.momentum_buffer;
    }
    p.add_(grad, -g.lr);
  }
}

// Adam and AdamW with PyTorch's update order and bias correction.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import { Optimizer, type ParamGroup } from './optimizer.ts';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Decoupled weight decay (AdamW) instead of L2 added to the gradient (Adam). */
  decoupled?: boolean;
}

type AdamState = { step: number; exp_avg: Tensor; exp_avg_sq: Tensor };

export class Adam extends Optimizer<AdamState> {
  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions = {}) {
    super(params, {
      lr: opts.lr ?? 1e-3, betas: opts.betas ?? [0.9, 0.999], eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0, decoupled: opts.decoupled ?? false,
    });
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup): void {
    const [b1, b2] = g.betas as [number, number];
    const wd = g.weightDecay as number;
    let s = this.state.get(p);
    if (!s) {
      s = { step: 0, exp_avg: torch.keep(torch.zerosLike(p)), exp_avg_sq: torch.keep(torch.zerosLike(p)) };
      this.state.set(p, s);
    }
    s.step++;
    if (wd && g.decoupled) p.mul_(1 - g.lr * wd);
    else if (wd) grad = grad.add(p, wd);
    s.exp_avg.lerp_(grad, 1 - b1);
    s.exp_avg_sq.mul_(b2).addcmul_(grad, grad, 1 - b2);
    const bc1 = 1 - b1 ** s.step;
    const bc2 = 1 - b2 ** s.step;
    const denom = s.exp_avg_sq.sqrt().div_(Math.sqrt(bc2)).add_(g.eps as number);
    p.addcdiv_(s.exp_avg, denom, -g.lr / bc1);
  }
}

export class AdamW extends Adam {
  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions = {}) {
    super(params, { weightDecay: 1e-2, ...opts, decoupled: true });
  }
}

// Exponential moving average of parameters (for evaluation and release weights).
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import type { Module } from '../module.ts';

export class EMA {
  readonly shadow = new Map<string, Tensor>();
  constructor(private readonly model: Module, readonly decay = 0.999) {
    torch.noGrad(() => {
      for (const [k, p] of model.namedParameters()) this.shadow.set(k, torch.keep(p.detach().clone()));
    });
  }

  update(): void {
    torch.noGrad(() => {
      for (const [k, p] of this.model.namedParameters()) this.shadow.get(k)!.lerp_(p, 1 - this.decay);
    });
  }

  /** Copies the averaged weights into the model. */
  copyTo(target: Module = this.model): void {
    target.loadStateDict(new Map(this.shadow), { strict: false });
  }
}

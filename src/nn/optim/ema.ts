// Exponential moving average of parameters (for evaluation and release weights): of a module's parameters, or
// of a named subset (e.g. only the trained weights of several models).
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import type { Module } from '../module.ts';

export class EMA {
  readonly shadow = new Map<string, Tensor>();
  private readonly named: () => [string, Tensor][];

  constructor(private readonly model: Module | [string, Tensor][], readonly decay = 0.999) {
    this.named = Array.isArray(model) ? () => model : () => model.namedParameters();
    torch.noGrad(() => {
      for (const [k, p] of this.named()) this.shadow.set(k, torch.keep(p.detach().clone()));
    });
  }

  update(): void {
    torch.noGrad(() => {
      for (const [k, p] of this.named()) this.shadow.get(k)!.lerp_(p, 1 - this.decay);
    });
  }

  /** Copies the averaged weights into the model (a module, or the named parameters the EMA was built on). */
  copyTo(target?: Module): void {
    if (target || !Array.isArray(this.model)) {
      (target ?? (this.model as Module)).loadStateDict(new Map(this.shadow), { strict: false });
      return;
    }
    torch.noGrad(() => {
      for (const [k, p] of this.named()) p.copy_(this.shadow.get(k)!);
    });
  }
}

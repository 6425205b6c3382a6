import type { Tensor } from '../torch/index.ts';
import { Module } from './module.ts';

/** Children named 0, 1, 2, ... as in PyTorch's ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  constructor(items: M[] = []) {
    super();
    items.forEach((m, i) => this.set(i, m));
  }
  private set(i: number, m: M): void {
    (this as unknown as Record<number, M>)[i] = m;
  }
  get length(): number {
    return this.namedChildren().length;
  }
  at(i: number): M {
    const m = (this as unknown as Record<number, M>)[i < 0 ? i + this.length : i];
    if (!m) throw new RangeError(`ModuleList index ${i} out of range (length ${this.length})`);
    return m;
  }
  push(m: M): void {
    this.set(this.length, m);
  }
  *[Symbol.iterator](): Iterator<M> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}

/** A module with a single-tensor forward. Gaps in indices (e.g. activations without weights) keep PyTorch's numbering. */
export interface Layer extends Module {
  forward(x: Tensor): Tensor;
}

export class Sequential extends ModuleList<Layer> {
  forward(x: Tensor): Tensor {
    for (const m of this) x = m.forward(x);
    return x;
  }
}

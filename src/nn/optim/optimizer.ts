// Optimiser base: parameter groups, per-parameter state and its (de)serialisation for checkpoints.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';

export interface ParamGroup {
  params: Tensor[];
  lr: number;
  [option: string]: unknown;
}

export abstract class Optimizer<S extends Record<string, Tensor | number>> {
  readonly groups: ParamGroup[];
  protected state = new Map<Tensor, S>();

  constructor(params: Tensor[] | ParamGroup[], defaults: Omit<ParamGroup, 'params'>) {
    const groups: ParamGroup[] = params.length && !(params[0] as Tensor).__isTensor
      ? (params as ParamGroup[])
      : [{ params: params as Tensor[] } as ParamGroup];
    this.groups = groups.map((g) => ({ ...defaults, ...g }));
  }

  /** Sets the learning rate of every group (LR schedules call this). */
  setLr(lr: number): void {
    for (const g of this.groups) g.lr = lr;
  }

  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.grad = undefined;
  }

  step(): void {
    torch.noGrad(() => {
      for (const group of this.groups) {
        for (const p of group.params) {
          const grad = p.grad;
          if (!grad) continue;
          torch.scope(() => this.update(p, grad, group));
          grad.dispose();
        }
      }
    });
  }

  protected abstract update(p: Tensor, grad: Tensor, group: ParamGroup): void;

  /** State as flat named tensors ("<param index>.<name>") plus numbers, for safetensors checkpoints. */
  stateDict(): { tensors: Map<string, Tensor>; scalars: Record<string, number> } {
    const tensors = new Map<string, Tensor>();
    const scalars: Record<string, number> = {};
    this.allParams().forEach((p, i) => {
      const s = this.state.get(p);
      if (!s) return;
      for (const [k, v] of Object.entries(s)) {
        if (typeof v === 'number') scalars[`${i}.${k}`] = v;
        else tensors.set(`${i}.${k}`, v);
      }
    });
    return { tensors, scalars };
  }

  loadStateDict(sd: { tensors: Map<string, Tensor>; scalars: Record<string, number> }): void {
    const params = this.allParams();
    const fresh = new Map<Tensor, Record<string, Tensor | number>>();
    const entry = (key: string) => {
      const [idx, name] = [Number(key.slice(0, key.indexOf('.'))), key.slice(key.indexOf('.') + 1)];
      const p = params[idx];
      if (!p) throw new Error(`optimizer state names parameter ${idx}, but the optimizer has ${params.length}`);
      if (!fresh.has(p)) fresh.set(p, {});
      return { rec: fresh.get(p)!, name, p };
    };
    for (const [k, t] of sd.tensors) {
      const { rec, name, p } = entry(k);
      if (t.shape.join() !== p.shape.join()) throw new Error(`optimizer state ${k}: expected shape [${p.shape}], found [${t.shape}]`);
      rec[name] = torch.keep(t.to(p.dtype, { copy: true }));
    }
    for (const [k, v] of Object.entries(sd.scalars)) {
      const { rec, name } = entry(k);
      rec[name] = v;
    }
    this.state = fresh as Map<Tensor, S>;
  }

  private allParams(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }
}

// Module: parameters, buffers and submodules found by attribute name, so state-dict keys name
// themselves exactly as in PyTorch ("down_blocks.0.attentions.1.proj_in.weight").
import * as torch from '../torch/index.ts';
import type { Device, DType, Tensor } from '../torch/index.ts';

const PARAMETERS = new WeakSet<Tensor>();
const BUFFERS = new WeakSet<Tensor>();

/** Marks t as a trainable parameter (requires grad, survives scopes). */
export function parameter(t: Tensor, requiresGrad = true): Tensor {
  torch.keep(t);
  PARAMETERS.add(t);
  if (t.device !== ('meta' as Device) && torch.isFloating(t.dtype)) t.requiresGrad_(requiresGrad);
  return t;
}

/** Marks t as a buffer: saved in the state dict, not trained (BatchNorm statistics). */
export function buffer(t: Tensor): Tensor {
  torch.keep(t);
  BUFFERS.add(t);
  return t;
}

export interface LoadReport {
  missing: string[];
  unexpected: string[];
  mismatched: { key: string; expected: number[]; found: number[] }[];
}

type Slot = { owner: Module; attr: string; kind: 'param' | 'buffer'; tensor: Tensor };

export class Module {
  training = true;

  /** Child modules by attribute name, in declaration order. */
  namedChildren(): [string, Module][] {
    return Object.entries(this).filter(([, v]) => v instanceof Module) as [string, Module][];
  }

  *modules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.namedChildren()) yield* child.modules(prefix ? `${prefix}.${name}` : name);
  }

  #slots(prefix: string, out: Map<string, Slot>): void {
    for (const [attr, v] of Object.entries(this)) {
      const key = prefix ? `${prefix}.${attr}` : attr;
      if (v instanceof Module) v.#slots(key, out);
      else if (v && (v as Tensor).__isTensor) {
        const t = v as Tensor;
        if (PARAMETERS.has(t)) out.set(key, { owner: this, attr, kind: 'param', tensor: t });
        else if (BUFFERS.has(t)) out.set(key, { owner: this, attr, kind: 'buffer', tensor: t });
      }
    }
  }

  private slots(): Map<string, Slot> {
    const out = new Map<string, Slot>();
    this.#slots('', out);
    return out;
  }

  namedParameters(): [string, Tensor][] {
    return [...this.slots()].filter(([, s]) => s.kind === 'param').map(([k, s]) => [k, s.tensor]);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    return [...this.slots()].filter(([, s]) => s.kind === 'buffer').map(([k, s]) => [k, s.tensor]);
  }

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  /** Parameters and buffers by PyTorch key; the tensors are the module's own (not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.slots()].map(([k, s]) => [k, s.tensor]));
  }

  /**
   * Copies (or with `assign`, adopts) tensors into the module by key. With strict (the default)
   * any missing, unexpected or mis-shaped key is an error that lists them all.
   */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, opts: { strict?: boolean; assign?: boolean; source?: string } = {}): LoadReport {
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const slots = this.slots();
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [] };
    for (const key of slots.keys()) if (!entries.has(key)) report.missing.push(key);
    for (const [key, t] of entries) {
      const slot = slots.get(key);
      if (!slot) { report.unexpected.push(key); continue; }
      const expected = slot.tensor.shape;
      if (expected.join() !== t.shape.join()) report.mismatched.push({ key, expected, found: t.shape });
    }
    const strict = opts.strict ?? true;
    const bad = report.missing.length + report.unexpected.length + report.mismatched.length;
    if (strict && bad) throw new Error(formatLoadReport(report, opts.source));
    const mismatched = new Set(report.mismatched.map((m) => m.key));
    torch.noGrad(() => {
      for (const [key, t] of entries) {
        const slot = slots.get(key);
        if (!slot || mismatched.has(key)) continue;
        if (opts.assign) {
          const old = slot.tensor;
          const dtype = old.device === ('meta' as Device) ? t.dtype : old.dtype;
          const adopted = t.dtype === dtype ? t : t.to(dtype);
          const requiresGrad = slot.kind === 'param' && old.device !== ('meta' as Device) ? old.requiresGrad : slot.kind === 'param';
          (slot.owner as unknown as Record<string, Tensor>)[slot.attr] =
            slot.kind === 'param' ? parameter(adopted, requiresGrad && torch.isFloating(adopted.dtype)) : buffer(adopted);
          if (old !== t) old.dispose();
        } else {
          slot.tensor.copy_(t);
        }
      }
    });
    return report;
  }

  train(on = true): this {
    for (const [, m] of this.modules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freezes or unfreezes every parameter. */
  requiresGrad_(on: boolean): this {
    for (const p of this.parameters()) p.requiresGrad_(on);
    return this;
  }

  /** Converts floating parameters and buffers (dtype) or moves everything (device), in place. */
  to(target: DType | Device): this {
    torch.noGrad(() => {
      for (const [, slot] of this.slots()) {
        const t = slot.tensor;
        const isDtype = !(target === 'cpu' || target.startsWith('cuda'));
        if (isDtype && !torch.isFloating(t.dtype)) continue;
        if (isDtype ? t.dtype === target : t.device === target) continue;
        const moved = t.to(target);
        const rg = t.requiresGrad;
        (slot.owner as unknown as Record<string, Tensor>)[slot.attr] = slot.kind === 'param' ? parameter(moved, rg) : buffer(moved);
        t.dispose();
      }
    });
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = undefined;
  }
}

export function formatLoadReport(r: LoadReport, source?: string): string {
  const lines = [`state dict${source ? ` from ${source}` : ''} does not match the model:`];
  const list = (xs: string[]) => xs.slice(0, 20).join(', ') + (xs.length > 20 ? `, ... (${xs.length} in all)` : '');
  if (r.missing.length) lines.push(`  missing keys (${r.missing.length}): ${list(r.missing)}`);
  if (r.unexpected.length) lines.push(`  unexpected keys (${r.unexpected.length}): ${list(r.unexpected)}`);
  for (const m of r.mismatched.slice(0, 20)) lines.push(`  shape of ${m.key}: expected [${m.expected}], found [${m.found}]`);
  if (r.mismatched.length > 20) lines.push(`  ... ${r.mismatched.length} mis-shaped keys in all`);
  return lines.join('\n');
}

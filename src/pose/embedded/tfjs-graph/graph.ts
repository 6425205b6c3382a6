// A TensorFlow.js graph model executed on our libtorch engine: the pretrained detectors shipped as
// model.json + .bin (e.g. in @vladmandic/human) run here without TensorFlow.js.
//
//   const g = await TfjsGraph.load('.../movenet-lightning.json');
//   const [out] = g.execute({ input: x }, ['Identity:0']);
//
// Tensors are in TensorFlow's layout (NHWC). Execution is pruned to the nodes the requested outputs need,
// runs without autograd, and frees every intermediate as soon as its last consumer has run.

import * as torch from '../../../torch/index.ts';
import { Attrs, KERNELS, torchDtype, type OpContext } from './ops.ts';
import { fuseConvolutions } from './fuse.ts';
import { readTfjsModel, type TfjsModelJson, type TfjsNode, type TfjsTensorInfo, type WeightValue } from './weights.ts';

type Tensor = torch.Tensor;

export interface GraphTensorInfo {
  name: string;
  shape: number[];
  dtype: torch.DType;
}

interface Ref {
  node: string;
  output: number;
}

function parseRef(input: string): Ref | undefined {
  if (input.startsWith('^')) return undefined; // control dependency
  const m = /^(.*?)(?::(\d+))?$/.exec(input)!;
  return { node: m[1], output: m[2] ? Number(m[2]) : 0 };
}

function key(ref: Ref): string {
  return `${ref.node}:${ref.output}`;
}

function tensorInfo(info: TfjsTensorInfo): GraphTensorInfo {
  return {
    name: info.name,
    shape: (info.tensorShape?.dim ?? []).map((d) => Number(d.size)),
    dtype: info.dtype ? torchDtype(info.dtype) : 'f32',
  };
}

function weightTensor(w: WeightValue): Tensor {
  const t = torch.tensor(w.data, { shape: w.shape, dtype: w.dtype === 'float32' ? 'f32' : w.dtype === 'int32' ? 'i32' : 'u8' });
  return torch.keep(w.dtype === 'bool' ? t.to('bool') : t);
}

export class TfjsGraph {
  readonly inputs: GraphTensorInfo[];
  readonly outputs: GraphTensorInfo[];
  private readonly nodes = new Map<string, TfjsNode>();
  private readonly consts = new Map<string, Tensor>();
  private readonly constInts = new Map<string, number[]>();
  private readonly caches = new Map<string, Map<string, unknown>>();
  private readonly plans = new Map<string, TfjsNode[]>();

  constructor(json: TfjsModelJson, weights: Map<string, WeightValue>, readonly source = '<graph>', options: { fuse?: boolean } = {}) {
    const sigOutputs = Object.values((json.signature ?? json.userDefinedMetadata?.signature)?.outputs ?? {}).map((o) => o.name.replace(/:\d+$/, ''));
    const nodes = options.fuse === false ? json.modelTopology.node : fuseConvolutions(json.modelTopology.node, weights, new Set(sigOutputs));
    for (const node of nodes) this.nodes.set(node.name, node);
    for (const [name, w] of weights) {
      this.consts.set(name, weightTensor(w));
      if (w.dtype === 'int32' && w.data.length <= 64) this.constInts.set(name, Array.from(w.data));
    }
    const sig = json.signature ?? json.userDefinedMetadata?.signature;
    const placeholders = json.modelTopology.node.filter((n) => n.op === 'Placeholder');
    this.inputs = sig?.inputs
      ? Object.values(sig.inputs).map(tensorInfo)
      : placeholders.map((n) => ({
        name: n.name,
        shape: ((n.attr?.shape?.shape as { dim?: { size: string }[] } | undefined)?.dim ?? []).map((d) => Number(d.size)),
        dtype: torchDtype(n.attr?.dtype?.type ?? 'DT_FLOAT'),
      }));
    this.outputs = sig?.outputs ? Object.values(sig.outputs).map(tensorInfo) : [];
    for (const node of this.nodes.values()) {
      if (node.op !== 'Const' && node.op !== 'Placeholder' && node.op !== 'NoOp' && !KERNELS[node.op]) {
        // Reported only if a requested output needs it (see plan()).
        continue;
      }
      if (node.op === 'Const' && !this.consts.has(node.name)) throw new Error(`${source}: constant ${node.name} has no weights`);
    }
  }

  /** Loads model.json and its shards; `fuse` (default true) folds bias adds and Relu/Relu6 into convolutions. */
  static async load(jsonPath: string, options: { fuse?: boolean } = {}): Promise<TfjsGraph> {
    const { json, weights } = await readTfjsModel(jsonPath);
    return new TfjsGraph(json, weights, jsonPath, options);
  }

  /** The nodes needed for `outputs`, in execution order. */
  private plan(outputs: string[]): TfjsNode[] {
    const id = outputs.join('|');
    const cached = this.plans.get(id);
    if (cached) return cached;
    const order: TfjsNode[] = [];
    const state = new Map<string, 1 | 2>();
    const visit = (name: string) => {
      const s = state.get(name);
      if (s === 2) return;
      if (s === 1) throw new Error(`${this.source}: cycle at ${name} (control flow is not supported)`);
      const node = this.nodes.get(name);
      if (!node) throw new Error(`${this.source}: no node named '${name}'`);
      state.set(name, 1);
      for (const input of node.input ?? []) {
        const ref = parseRef(input);
        if (ref) visit(ref.node);
      }
      state.set(name, 2);
      if (node.op !== 'Const' && node.op !== 'Placeholder' && !KERNELS[node.op]) {
        throw new Error(`${this.source}: op ${node.op} (node ${name}) is not supported`);
      }
      order.push(node);
    };
    for (const out of outputs) visit(parseRef(out)!.node);
    this.plans.set(id, order);
    return order;
  }

  /**
   * Runs the graph. `feeds` maps placeholder names (with or without ':0') to tensors; `outputs` names the
   * tensors to return ('node' or 'node:k'), default the signature's outputs.
   */
  execute(feeds: Record<string, Tensor>, outputs: string[] = this.outputs.map((o) => o.name)): Tensor[] {
    if (outputs.length === 0) throw new Error(`${this.source}: no outputs requested and the model has no signature`);
    const order = this.plan(outputs);
    const wanted = new Set(outputs.map((o) => key(parseRef(o)!)));
    // How many times each value is read, to free it after its last reader.
    const readers = new Map<string, number>();
    for (const node of order) {
      for (const input of node.input ?? []) {
        const ref = parseRef(input);
        if (ref) readers.set(key(ref), (readers.get(key(ref)) ?? 0) + 1);
      }
    }
    const values = new Map<string, Tensor>();
    const owned = new Set<string>();
    const feedOf = (name: string) => feeds[name] ?? feeds[`${name}:0`];
    return torch.noGrad(() => {
      try {
        for (const node of order) {
          if (node.op === 'Const') {
            values.set(`${node.name}:0`, this.consts.get(node.name)!);
            continue;
          }
          if (node.op === 'Placeholder') {
            const t = feedOf(node.name);
            if (!t) throw new Error(`${this.source}: no value fed for input '${node.name}'`);
            values.set(`${node.name}:0`, t);
            continue;
          }
          const refs = (node.input ?? []).map(parseRef).filter((r): r is Ref => r !== undefined);
          const inputs = refs.map((r) => {
            const v = values.get(key(r));
            if (!v) throw new Error(`${this.source}: node ${node.name} reads ${key(r)}, which was not computed`);
            return v;
          });
          let cache = this.caches.get(node.name);
          if (!cache) this.caches.set(node.name, (cache = new Map()));
          const ctx: OpContext = {
            node,
            attrs: new Attrs(node.attr, `${this.source}: ${node.op} ${node.name}`),
            cache,
            isConst: (i) => this.nodes.get(refs[i]?.node ?? '')?.op === 'Const',
            ints: (t) => {
              const i = inputs.indexOf(t);
              const c = i >= 0 ? this.constInts.get(refs[i].node) : undefined;
              return c ?? t.toArray();
            },
          };
          let results: Tensor[];
          try {
            results = KERNELS[node.op](inputs, ctx);
          } catch (err) {
            const shapes = inputs.map((t) => `${t.dtype}[${t.shape}]`).join(', ');
            throw new Error(`${this.source}: ${node.op} ${node.name}(${shapes}): ${(err as Error).message}`);
          }
          results.forEach((t, k) => {
            values.set(`${node.name}:${k}`, t);
            owned.add(`${node.name}:${k}`);
          });
          for (const r of refs) {
            const k = key(r);
            const left = readers.get(k)! - 1;
            readers.set(k, left);
            if (left === 0 && owned.has(k) && !wanted.has(k)) {
              values.get(k)!.dispose();
              values.delete(k);
              owned.delete(k);
            }
          }
        }
        const result = outputs.map((o) => {
          const k = key(parseRef(o)!);
          const v = values.get(k)!;
          if (owned.delete(k)) return v;
          // A fed or constant value asked for as an output: a view the caller may dispose.
          return v.view(v.shape);
        });
        return result;
      } finally {
        for (const k of owned) values.get(k)?.dispose();
      }
    });
  }

  /** Frees the weights (the graph is unusable afterwards). */
  dispose(): void {
    for (const t of this.consts.values()) t.dispose();
    for (const cache of this.caches.values()) for (const v of cache.values()) (v as Tensor).dispose?.();
    this.consts.clear();
    this.caches.clear();
  }
}

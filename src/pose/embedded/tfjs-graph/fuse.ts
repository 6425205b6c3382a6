// A load-time graph rewrite: a convolution whose only reader adds a per-channel constant (bias) becomes a
// fused convolution with that bias, and a Relu/Relu6 reading only that result joins it as the fused
// activation. The fused node takes the name of the last node it absorbs, so readers are unchanged.
// This removes two full passes over the activations per layer in models exported without fusion.

import type { TfjsNode, WeightValue } from './weights.ts';

const FUSED: Record<string, string> = {
  Conv2D: '_FusedConv2D',
  DepthwiseConv2dNative: 'FusedDepthwiseConv2dNative',
  _FusedConv2D: '_FusedConv2D',
  FusedDepthwiseConv2dNative: 'FusedDepthwiseConv2dNative',
};
const ACTIVATIONS = new Set(['Relu', 'Relu6']);
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

function refNode(input: string): string | undefined {
  if (input.startsWith('^')) return undefined;
  return input.replace(/:\d+$/, '');
}

/** Returns the rewritten node list; `keep` names nodes that must stay addressable (requested outputs). */
export function fuseConvolutions(nodes: TfjsNode[], weights: Map<string, WeightValue>, keep: Set<string>): TfjsNode[] {
  const byName = new Map<string, TfjsNode>(nodes.map((n) => [n.name, { ...n, input: [...(n.input ?? [])], attr: { ...(n.attr ?? {}) } }]));
  const readers = new Map<string, string[]>();
  for (const n of byName.values()) {
    for (const i of n.input ?? []) {
      const r = refNode(i);
      if (r) readers.set(r, [...(readers.get(r) ?? []), n.name]);
    }
  }
  const fusedOps = (n: TfjsNode) => (n.attr?.fused_ops?.list?.s ?? []).map(unb64);
  const only = (name: string) => {
    const r = readers.get(name) ?? [];
    return r.length === 1 && !keep.has(name) ? byName.get(r[0]) : undefined;
  };
  const absorb = (conv: TfjsNode, reader: TfjsNode, ops: string[], extraInput?: string) => {
    const fused: TfjsNode = {
      name: reader.name,
      op: FUSED[conv.op],
      input: [...(conv.input ?? []).slice(0, 2 + (fusedOps(conv).includes('BiasAdd') ? 1 : 0)), ...(extraInput ? [extraInput] : [])],
      attr: { ...conv.attr, fused_ops: { list: { s: ops.map(b64) } }, num_args: { i: String(ops.includes('BiasAdd') ? 1 : 0) } },
    };
    byName.delete(conv.name);
    byName.set(reader.name, fused);
    readers.delete(conv.name);
    return fused;
  };
  for (const start of [...byName.values()]) {
    const found = byName.get(start.name);
    if (!found || !FUSED[found.op]) continue;
    let conv: TfjsNode = found;
    const ops = fusedOps(conv);
    if (ops.some((o) => o !== 'BiasAdd')) continue; // already has an activation
    if (!ops.includes('BiasAdd')) {
      const add = only(conv.name);
      if (!add || !['Add', 'AddV2', 'BiasAdd'].includes(add.op) || add.input!.length !== 2) continue;
      const other = add.input!.map(refNode).find((r) => r !== conv.name);
      const w = other ? weights.get(other) : undefined;
      const outChannels = weights.get(refNode(conv.input![1]) ?? '')?.shape;
      if (!w || w.dtype !== 'float32' || !outChannels) continue;
      const channels = conv.op.startsWith('Depthwise') || conv.op.startsWith('FusedDepthwise') ? outChannels[2] * outChannels[3] : outChannels[3];
      if (w.data.length !== channels || w.shape.slice(0, -1).some((d) => d !== 1)) continue;
      conv = absorb(conv, add, ['BiasAdd'], other);
    }
    const act = only(conv.name);
    if (act && ACTIVATIONS.has(act.op)) absorb(conv, act, ['BiasAdd', act.op]);
  }
  return [...byName.values()];
}

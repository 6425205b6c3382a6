// Hand-encoded ONNX models for the tests: a minimal protobuf writer for ModelProto with float tensors,
// Constant/Identity/Add nodes and typed graph inputs/outputs. No real DWPose weights needed.

import { writeFileSync } from 'node:fs';

class Writer {
  private chunks: number[] = [];
  varint(v: number | bigint): this {
    let n = BigInt(v);
    if (n < 0n) n += 1n << 64n;
    do {
      let byte = Number(n & 0x7fn);
      n >>= 7n;
      if (n > 0n) byte |= 0x80;
      this.chunks.push(byte);
    } while (n > 0n);
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

const FLOAT = 1;

export interface TensorDef {
  name: string;
  dims: number[];
  data: Float32Array;
}

function tensorProto(t: TensorDef): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, FLOAT);
  w.string(8, t.name);
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return w;
}

function valueInfo(name: string, dims: (number | string)[]): Writer {
  const shape = new Writer();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new Writer().int(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().int(1, FLOAT).message(2, shape);
  return new Writer().string(1, name).message(2, new Writer().message(1, tensorType));
}

export interface NodeDef {
  op: 'Identity' | 'Add' | 'Constant';
  inputs: string[];
  outputs: string[];
  /** For Constant: the tensor value. */
  value?: TensorDef;
}

export interface ModelDef {
  inputs: { name: string; dims: (number | string)[] }[];
  outputs: { name: string; dims: (number | string)[] }[];
  nodes: NodeDef[];
  initializers?: TensorDef[];
}

export function encodeModel(def: ModelDef): Uint8Array {
  const graph = new Writer();
  def.nodes.forEach((n, i) => {
    const node = new Writer();
    for (const x of n.inputs) node.string(1, x);
    for (const x of n.outputs) node.string(2, x);
    node.string(3, `node${i}`);
    node.string(4, n.op);
    if (n.value) node.message(5, new Writer().string(1, 'value').message(5, tensorProto(n.value)).int(20, 4));
    graph.message(1, node);
  });
  graph.string(2, 'test-graph');
  for (const t of def.initializers ?? []) graph.message(5, tensorProto(t));
  for (const v of def.inputs) graph.message(11, valueInfo(v.name, v.dims));
  for (const v of def.outputs) graph.message(12, valueInfo(v.name, v.dims));
  const model = new Writer();
  model.int(1, 8); // ir_version
  model.string(2, 'stable-animator-tests');
  model.message(7, graph);
  model.message(8, new Writer().string(1, '').int(2, 13)); // opset 13
  return model.finish();
}

export function writeModel(path: string, def: ModelDef): string {
  writeFileSync(path, encodeModel(def));
  return path;
}

/** A model whose outputs are constants (the input is accepted and ignored): a stand-in for a detector. */
export function constantModel(input: { name: string; dims: number[] }, outputs: TensorDef[]): ModelDef {
  return {
    inputs: [input],
    outputs: outputs.map((o) => ({ name: o.name, dims: o.dims })),
    nodes: outputs.flatMap((o) => [
      { op: 'Constant' as const, inputs: [], outputs: [`${o.name}_const`], value: { ...o, name: `${o.name}_value` } },
      { op: 'Identity' as const, inputs: [`${o.name}_const`], outputs: [o.name] },
    ]),
  };
}

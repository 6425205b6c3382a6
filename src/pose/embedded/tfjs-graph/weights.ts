// TensorFlow.js graph-model files: model.json (topology + weights manifest) and the binary weight shards.
// Weights may be stored quantized (float16, or uint8/uint16 with an affine scale); they are expanded here to
// the dtype they declare.

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export type TfDtype = 'float32' | 'int32' | 'bool' | 'string' | 'complex64';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: TfDtype;
  quantization?: { dtype: 'float16' | 'uint8' | 'uint16'; scale?: number; min?: number };
}

export interface TfjsAttrValue {
  s?: string; // base64
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: unknown;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; b?: boolean[]; type?: string[] };
  tensor?: unknown;
}

export interface TfjsNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfjsAttrValue>;
}

export interface TfjsTensorInfo {
  name: string;
  dtype?: string;
  tensorShape?: { dim?: { size: string | number }[] };
}

export interface TfjsModelJson {
  format?: string;
  modelTopology: { node: TfjsNode[]; library?: unknown; versions?: unknown };
  weightsManifest: { paths: string[]; weights: TfjsWeightSpec[] }[];
  signature?: { inputs?: Record<string, TfjsTensorInfo>; outputs?: Record<string, TfjsTensorInfo> };
  userDefinedMetadata?: { signature?: { inputs?: Record<string, TfjsTensorInfo>; outputs?: Record<string, TfjsTensorInfo> } };
}

/** A decoded weight: float32 values as Float32Array, int32 as Int32Array, bool as Uint8Array. */
export interface WeightValue {
  dtype: 'float32' | 'int32' | 'bool';
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

const F16_EXP = new Float32Array(32);
for (let e = 0; e < 32; e++) F16_EXP[e] = 2 ** (e - 15);

/** IEEE half-precision bits to a float. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * F16_EXP[exp] * (1 + frac / 1024);
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, float16: 2, uint8: 1, uint16: 2 };

/** Decodes the concatenated shard bytes of one manifest group into named weights. */
export function decodeWeights(specs: TfjsWeightSpec[], bytes: Uint8Array, file = '<weights>'): Map<string, WeightValue> {
  const out = new Map<string, WeightValue>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (const spec of specs) {
    const n = numel(spec.shape);
    const q = spec.quantization;
    const stored = q ? q.dtype : spec.dtype;
    const size = BYTES[stored];
    if (size === undefined) throw new Error(`${file}: weight ${spec.name} has unsupported dtype ${stored}`);
    if (offset + n * size > bytes.byteLength) {
      throw new Error(`${file}: weight ${spec.name} needs bytes ${offset}..${offset + n * size}, the shards hold ${bytes.byteLength}`);
    }
    if (spec.dtype !== 'float32' && spec.dtype !== 'int32' && spec.dtype !== 'bool') {
      throw new Error(`${file}: weight ${spec.name} has unsupported dtype ${spec.dtype}`);
    }
    let data: Float32Array | Int32Array | Uint8Array;
    if (q) {
      const values = new Float32Array(n);
      if (q.dtype === 'float16') {
        for (let i = 0; i < n; i++) values[i] = halfToFloat(view.getUint16(offset + 2 * i, true));
      } else {
        const scale = q.scale ?? 1;
        const min = q.min ?? 0;
        for (let i = 0; i < n; i++) {
          const v = q.dtype === 'uint8' ? bytes[offset + i] : view.getUint16(offset + 2 * i, true);
          values[i] = v * scale + min;
        }
      }
      data = spec.dtype === 'int32' ? Int32Array.from(values, Math.round) : values;
    } else if (spec.dtype === 'float32') {
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(offset + 4 * i, true);
    } else if (spec.dtype === 'int32') {
      data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getInt32(offset + 4 * i, true);
    } else {
      data = bytes.slice(offset, offset + n);
    }
    offset += n * size;
    out.set(spec.name, { dtype: spec.dtype, shape: spec.shape, data });
  }
  return out;
}

/** Reads model.json and its weight shards (paths relative to the json file). */
export async function readTfjsModel(jsonPath: string): Promise<{ json: TfjsModelJson; weights: Map<string, WeightValue> }> {
  let json: TfjsModelJson;
  try {
    json = JSON.parse(await readFile(jsonPath, 'utf8')) as TfjsModelJson;
  } catch (err) {
    throw new Error(`cannot read TensorFlow.js model ${jsonPath}: ${(err as Error).message}`);
  }
  if (!json.modelTopology?.node || !Array.isArray(json.weightsManifest)) {
    throw new Error(`cannot read TensorFlow.js model ${jsonPath}: not a graph model (no modelTopology.node / weightsManifest)`);
  }
  const weights = new Map<string, WeightValue>();
  for (const group of json.weightsManifest) {
    const shards = await Promise.all(group.paths.map((p) => readFile(join(dirname(jsonPath), p)).catch((err: Error) => {
      throw new Error(`cannot read weights ${p} of ${jsonPath}: ${err.message}`);
    })));
    const bytes = shards.length === 1 ? new Uint8Array(shards[0]) : new Uint8Array(Buffer.concat(shards));
    for (const [k, v] of decodeWeights(group.weights, bytes, jsonPath)) weights.set(k, v);
  }
  return { json, weights };
}

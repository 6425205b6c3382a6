// Fixture access for the StableAnimator module tests (test/face, test/animator): golden safetensors
// files widened to f32, key lists of the full-size models, and the relative-error measure.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.ts';
import type { DType, Tensor } from '../../src/torch/index.ts';
import type { Module } from '../../src/nn/index.ts';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

const DTYPES: Record<string, DType> = { F16: 'f16', F32: 'f32', F64: 'f64', BF16: 'bf16', I64: 'i64', I32: 'i32', U8: 'u8', BOOL: 'bool' };

/** All tensors of a safetensors file, floating ones widened to f32 (the fixtures compute in f32). */
export function loadFixture(dir: string, file: string): Map<string, Tensor> {
  const buf = readFileSync(join(FIXTURES, dir, file));
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLen;
  const out = new Map<string, Tensor>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dtype = DTYPES[e.dtype];
    if (!dtype) throw new Error(`${file}: ${name} has unsupported dtype ${e.dtype}`);
    const data = new Uint8Array(buf.subarray(base + e.data_offsets[0], base + e.data_offsets[1]));
    const t = torch.fromRaw({ dtype, shape: e.shape, data });
    out.set(name, torch.isFloating(dtype) && dtype !== 'f32' ? t.float() : t);
  }
  return out;
}

export function get(m: Map<string, Tensor>, key: string): Tensor {
  const t = m.get(key);
  if (!t) throw new Error(`fixture has no tensor '${key}' (has ${[...m.keys()].join(', ')})`);
  return t;
}

/** max|ours − ref| / max|ref|, after checking the shapes agree. */
export function relError(ours: Tensor, ref: Tensor): number {
  assert.deepEqual(ours.shape, ref.shape, 'output shape');
  const err = ours.sub(ref).abs().max().item();
  const mag = ref.abs().max().item();
  return err / (mag || 1);
}

export interface KeyList {
  num_keys: number;
  num_parameters: number;
  num_state_dict_elements: number;
  keys: [string, number[], string?][];
}

export function readKeyList(name: string): KeyList {
  return JSON.parse(readFileSync(join(FIXTURES, 'keys_full', `${name}.json`), 'utf8')) as KeyList;
}

const DTYPE_NAMES: Partial<Record<DType, string>> = { i64: 'int64', f16: 'float16', bf16: 'bfloat16', f64: 'float64' };

/** The module's state dict as the key-list entries ([name, shape, dtype unless f32]), in order. */
export function keyEntries(model: Module): [string, number[], string?][] {
  return [...model.stateDict()].map(([k, t]) => {
    const d = DTYPE_NAMES[t.dtype];
    return d ? [k, t.shape, d] : [k, t.shape];
  });
}

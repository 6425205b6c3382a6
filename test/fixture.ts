// Fixture access for the model tests: golden safetensors
// files widened to f32, key lists of the full-size models, and the relative-error measure.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../src/torch/index.ts';
import type { DType, RawTensor, Tensor } from '../src/torch/index.ts';
import { readSafetensors, writeSafetensors } from '../src/torch/serialization/index.ts';
import type { Module } from '../src/nn/index.ts';

export const FIXTURES = join(import.meta.dirname, 'fixtures');

/** All tensors of a fixture safetensors file, floating ones widened to f32 (the fixtures compute in f32). */
export function loadFixture(dir: string, file: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, raw] of readSafetensors(join(FIXTURES, dir, file))) {
    const t = torch.fromRaw(raw);
    out.set(name, torch.isFloating(t.dtype) && t.dtype !== 'f32' ? t.float() : t);
  }
  return out;
}

/**
 * Runs fn on a temporary copy of a fixture's weights as a checkpoint file (the F16 tensors as stored,
 * optionally edited), then deletes it.
 */
export function withCheckpointFile<T>(dir: string, file: string, fn: (path: string) => T,
  edit?: (state: Map<string, RawTensor>) => void): T {
  const state = readSafetensors(join(FIXTURES, dir, file));
  edit?.(state);
  const tmp = mkdtempSync(join(tmpdir(), 'sa-ckpt-'));
  try {
    const path = join(tmp, 'model.safetensors');
    writeSafetensors(path, state);
    return fn(path);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
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

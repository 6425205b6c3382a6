// A checkpoint's names, dtypes and shapes without its tensor data (safetensors JSON header, the .pth pickle):
// what models read to infer their configs, and what `weights check` compares.
import type { DType } from '../dtype.ts';
import { readPthHeader } from './pth-header.ts';
import { readSafetensorsHeader } from './safetensors.ts';

export type CheckpointHeader = Map<string, { dtype: DType; shape: number[] }>;

export function readCheckpointHeader(path: string): CheckpointHeader {
  if (path.endsWith('.safetensors')) {
    return new Map([...readSafetensorsHeader(path).tensors].map(([k, e]) => [k, { dtype: e.dtype, shape: e.shape }]));
  }
  return readPthHeader(path);
}

/** Size `axis` of tensor `key`; an error naming the file when the key is absent (not this model's checkpoint). */
export function headerDim(header: Map<string, { shape: number[] }>, key: string, axis: number, file: string): number {
  const e = header.get(key);
  if (!e) throw new Error(`${file}: no '${key}' (not a checkpoint of this model)`);
  return e.shape[axis]!;
}

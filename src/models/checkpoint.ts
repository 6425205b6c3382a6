// Model checkpoint files -> engine tensors: PyTorch `.pth` (the released StableAnimator files, through
// the restricted unpickler) or `.safetensors` (read in bounded groups), floating tensors converted to
// the requested dtype; strict loading into models built on 'meta'.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import * as torch from '../torch/index.ts';
import type { Device, DType, RawTensor, Tensor } from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import { loadPth, readSafetensors, readSafetensorsHeader } from '../torch/serialization/index.ts';

/** Bytes read from a safetensors file per group of tensors. */
const GROUP_BYTES = 256 * 2 ** 20;

export interface CheckpointOptions {
  /** Floating tensors are converted to this dtype (default f32, the checkpoints' own). */
  dtype?: DType;
}

/** Reads `path` by its extension (.safetensors, else a torch.save file). */
export function readStateDict(path: string, opts: CheckpointOptions = {}): Map<string, Tensor> {
  const dtype = opts.dtype ?? 'f32';
  const raw: Map<string, RawTensor> = path.endsWith('.safetensors') ? readSafetensors(path) : loadPth(path);
  const out = new Map<string, Tensor>();
  for (const [key, r] of raw) {
    const t = torch.fromRaw(r);
    if (!torch.isFloating(t.dtype) || t.dtype === dtype) {
      out.set(key, t);
    } else {
      out.set(key, t.to(dtype));
      t.dispose();
    }
  }
  return out;
}

/**
 * Loads `path` into a model built on 'meta': strictly (every key present, none extra, shapes equal; the
 * error lists all differences and names the file), adopting the tensors (`assign`), then eval mode.
 */
export function loadCheckpointInto<M extends nn.Module>(model: M, path: string, opts: CheckpointOptions = {}): M {
  loadWeights(model, path, opts);
  return model.eval();
}

/**
 * Loads checkpoint files (.safetensors read in bounded groups; .pth / .pt / .ckpt state dicts through
 * the restricted unpickler, whole) into a model, usually built on 'meta'. Every key must match
 * (strict), floating tensors are converted to opts.dtype (default f32) and moved to opts.device.
 */
export function loadWeights(model: nn.Module, files: string | string[], opts: { dtype?: DType; device?: Device } = {}): void {
  const list = Array.isArray(files) ? files : [files];
  const expected = new Map([...model.stateDict()].map(([k, t]) => [k, t.shape]));
  const seen = new Set<string>();
  const loaded = new Map<string, Tensor>();
  for (const file of list) {
    if (!existsSync(file)) throw new Error(`checkpoint ${file} does not exist`);
    if (file.endsWith('.safetensors')) {
      const header = readSafetensorsHeader(file);
      checkNames(expected, [...header.tensors].map(([k, e]) => [k, e.shape]), file, seen, list.length > 1);
      for (const group of groups(header.tensors)) adopt(readSafetensors(file, { names: group }), loaded, opts);
    } else {
      const raws = loadPth(file);
      checkNames(expected, [...raws].map(([k, r]) => [k, r.shape]), file, seen, list.length > 1);
      adopt(raws, loaded, opts);
    }
  }
  const missing = [...expected.keys()].filter((k) => !seen.has(k));
  if (missing.length) {
    throw new Error(nn.formatLoadReport({ missing, unexpected: [], mismatched: [] }, list.map((f) => basename(f)).join(', ')));
  }
  model.loadStateDict(loaded, { assign: true, source: list.join(', ') });
}

/** Unexpected or mis-shaped names are reported before any tensor data is read. */
function checkNames(expected: Map<string, number[]>, names: [string, number[]][], file: string, seen: Set<string>, sharded: boolean): void {
  const unexpected: string[] = [];
  const mismatched: { key: string; expected: number[]; found: number[] }[] = [];
  for (const [k, shape] of names) {
    const want = expected.get(k);
    if (!want) unexpected.push(k);
    else if (want.join() !== shape.join()) mismatched.push({ key: k, expected: want, found: shape });
    seen.add(k);
  }
  const missing = sharded ? [] : [...expected.keys()].filter((k) => !seen.has(k));
  if (unexpected.length || mismatched.length || missing.length) throw new Error(nn.formatLoadReport({ missing, unexpected, mismatched }, file));
}

function* groups(entries: Map<string, { dataOffsets: [number, number] }>): Generator<string[]> {
  let group: string[] = [];
  let bytes = 0;
  for (const [name, e] of entries) {
    const size = e.dataOffsets[1] - e.dataOffsets[0];
    if (group.length && bytes + size > GROUP_BYTES) {
      yield group;
      group = [];
      bytes = 0;
    }
    group.push(name);
    bytes += size;
  }
  if (group.length) yield group;
}

function adopt(raws: Map<string, RawTensor>, into: Map<string, Tensor>, opts: { dtype?: DType; device?: Device }): void {
  const dtype = opts.dtype ?? 'f32';
  for (const [name, raw] of raws) {
    let t = torch.fromRaw(raw);
    raws.delete(name);
    if (torch.isFloating(t.dtype) && t.dtype !== dtype) t = swap(t, t.to(dtype));
    if (opts.device && opts.device !== 'cpu') t = swap(t, t.to(opts.device));
    into.set(name, t);
  }
}

function swap(old: Tensor, next: Tensor): Tensor {
  old.dispose();
  return next;
}


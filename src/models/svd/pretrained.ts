// Loading a diffusers model folder (config.json + diffusion_pytorch_model[.fp16].safetensors, or a
// sharded `.safetensors.index.json`) into a model built on the 'meta' device: the checkpoint's names
// and shapes are checked against the model from the file headers before any data is read, then the
// tensors are read in groups of bounded size, converted to the requested dtype/device and adopted, so
// the peak memory stays near the model's own size.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as torch from '../../torch/index.ts';
import type { Device, DType, RawTensor, Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { loadPth, readSafetensors, readSafetensorsHeader } from '../../torch/serialization/index.ts';

export interface PretrainedOptions {
  /** Floating tensors are converted to this dtype (default 'f32', as diffusers without torch_dtype). */
  dtype?: DType;
  device?: Device;
  /** Prefer `diffusion_pytorch_model.fp16.safetensors` (otherwise it is the fallback). */
  variant?: 'fp16';
}

const WEIGHTS = 'diffusion_pytorch_model';
/** Bytes read from the file per group of tensors. */
const GROUP_BYTES = 256 * 2 ** 20;

/** The parsed config.json of a model folder, checked against the expected `_class_name` when it has one. */
export function readModelConfig(dir: string, className: string): Record<string, unknown> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${className}: model folder ${dir} does not exist`);
  const path = join(dir, 'config.json');
  if (!existsSync(path)) {
    throw new Error(`${className}: ${dir} has no config.json (expected a diffusers model folder such as stable-video-diffusion-img2vid-xt/unet)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${className}: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${className}: ${path} does not hold a JSON object`);
  const cls = (json as Record<string, unknown>)._class_name;
  if (cls !== undefined && cls !== className) throw new Error(`${className}: ${path} describes a ${String(cls)}, not a ${className}`);
  return json as Record<string, unknown>;
}

/** The safetensors file(s) of a model folder: single file or the shards of an index, preferring the variant. */
export function findWeightFiles(dir: string, variant?: 'fp16'): string[] {
  const names = variant ? [`${WEIGHTS}.${variant}.safetensors`, `${WEIGHTS}.safetensors`] : [`${WEIGHTS}.safetensors`, `${WEIGHTS}.fp16.safetensors`];
  for (const name of names) {
    const single = join(dir, name);
    if (existsSync(single)) return [single];
    const index = `${single}.index.json`;
    if (existsSync(index)) {
      const map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> }).weight_map;
      if (!map) throw new Error(`${index}: no weight_map`);
      return [...new Set(Object.values(map))].map((f) => join(dir, f));
    }
  }
  const present = readdirSync(dir);
  const hint = present.some((f) => f.endsWith('.bin')) ? ' (only PyTorch .bin weights are present: convert them to safetensors)' : '';
  throw new Error(`${dir}: no ${names.join(' or ')}${hint}; the folder has ${present.join(', ') || 'no files'}`);
}

/** Builds the model without memory from the folder's config, then loads its weights. */
export function loadPretrained<M extends nn.Module>(dir: string, className: string, build: (config: Record<string, unknown>) => M, opts: PretrainedOptions = {}): M {
  const config = readModelConfig(dir, className);
  const model = nn.withInit({ device: 'meta' as Device }, () => build(config));
  loadWeights(model, findWeightFiles(dir, opts.variant), opts);
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

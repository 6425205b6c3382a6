// Training checkpoints, one format for every trainer: <dir>/checkpoint-<step>.safetensors holding the weights
// (`weights.*`: a module's whole state dict, or the trained tensors by name), the optimizer's moments
// (`optim.*`) and the EMA (`ema.*`), with the step, the optimizer's scalars, the run's settings and the
// trainer's JSON extras (losses, validation history, bad clips) in the metadata. Settings must be equal on
// resume, so a resumed run computes exactly what an uninterrupted one would; the last K files are kept.
// (Per-step RNGs: util/seeds.ts positionRng(seed, step): no generator state to save.)
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../../torch/index.ts';
import type { RawTensor, Tensor } from '../../torch/index.ts';
import type * as nn from '../index.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../torch/serialization/index.ts';

/** The part of an optimizer a checkpoint needs. */
export interface CheckpointableOptimizer {
  stateDict(): { tensors: Map<string, Tensor>; scalars: Record<string, number> };
  loadStateDict(sd: { tensors: Map<string, Tensor>; scalars: Record<string, number> }): void;
}

export interface CheckpointState {
  step: number;
  /** A module (its whole state dict: buffers and frozen parts too) or the trained tensors by name. */
  weights: nn.Module | [string, Tensor][];
  optimizer: CheckpointableOptimizer;
  ema?: nn.EMA;
  /** Settings a resumed run must share (JSON-comparable). */
  settings: object;
  /** JSON-serialisable extras of the trainer. */
  extra?: Record<string, unknown>;
}

const NAME = /^checkpoint-(\d+)\.safetensors$/;
const toRaw = (t: Tensor): RawTensor => t.detach().contiguous().to('cpu').raw();
const entriesOf = (w: CheckpointState['weights']): Iterable<[string, Tensor]> => (Array.isArray(w) ? w : w.stateDict());

export function checkpointPath(dir: string, step: number): string {
  return join(dir, `checkpoint-${step}.safetensors`);
}

/** Checkpoint files of `dir`, oldest first. */
export function listCheckpoints(dir: string): { step: number; path: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.map((n) => NAME.exec(n)).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), path: join(dir, m[0]) })).sort((a, b) => a.step - b.step);
}

/** Writes checkpoint-<step> in `format` (the trainer's name); keeps the last `keep`. */
export function saveCheckpoint(dir: string, format: string, s: CheckpointState, keep = 1): string {
  const tensors = new Map<string, RawTensor>();
  for (const [k, t] of entriesOf(s.weights)) tensors.set(`weights.${k}`, toRaw(t));
  if (s.ema) for (const [k, t] of s.ema.shadow) tensors.set(`ema.${k}`, toRaw(t));
  const { tensors: optTensors, scalars } = s.optimizer.stateDict();
  for (const [k, t] of optTensors) tensors.set(`optim.${k}`, toRaw(t));
  const path = checkpointPath(dir, s.step);
  writeSafetensors(path, tensors, {
    format, step: String(s.step), settings: JSON.stringify(s.settings), optimizer_scalars: JSON.stringify(scalars), extra: JSON.stringify(s.extra ?? {}),
  });
  const all = listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old.path, { force: true });
  return path;
}

/** The metadata of a checkpoint of `format`, its settings equal to `settings` (every key of either side). */
function readMeta(path: string, format: string, settings: object): Record<string, string> {
  const meta = readSafetensorsHeader(path).metadata;
  if (meta.format !== format) throw new Error(`${path}: expected a ${format} checkpoint, found format ${JSON.stringify(meta.format)}`);
  const saved = JSON.parse(meta.settings ?? '{}') as Record<string, unknown>;
  const current = settings as Record<string, unknown>;
  for (const key of new Set([...Object.keys(saved), ...Object.keys(current)])) {
    const [a, b] = [JSON.stringify(saved[key]), JSON.stringify(current[key])];
    if (a !== b) throw new Error(`${path}: the checkpoint was trained with ${key} = ${a}, this run asks for ${b}; resume with the same options or use another output folder`);
  }
  return meta;
}

/** Loads `path` into the state's tensors in place (the optimizer keeps its parameter references); errors name what differs. */
export function loadCheckpoint(path: string, format: string, s: Omit<CheckpointState, 'step' | 'extra'>): { step: number; extra: Record<string, unknown> } {
  const meta = readMeta(path, format, s.settings);
  const tensors = readSafetensors(path);
  // everything read is copied into the state; the scope frees what was read
  torch.scope(() => {
    const group = (prefix: string) => {
      const m = new Map<string, Tensor>();
      for (const [k, t] of tensors) if (k.startsWith(prefix)) m.set(k.slice(prefix.length), torch.fromRaw(t));
      return m;
    };
    const copyInto = (saved: Map<string, Tensor>, prefix: string, into: Iterable<[string, Tensor]>) => {
      for (const [k, p] of into) {
        const t = saved.get(k);
        if (!t) throw new Error(`${path}: expected tensor '${prefix}${k}', not found`);
        if (t.shape.join() !== p.shape.join()) throw new Error(`${path}: '${prefix}${k}' expected shape [${p.shape}], found [${t.shape}]`);
        torch.noGrad(() => p.copy_(t));
      }
    };
    const weights = group('weights.');
    if (Array.isArray(s.weights)) copyInto(weights, 'weights.', s.weights);
    else s.weights.loadStateDict(weights, { source: path });
    if (s.ema) copyInto(group('ema.'), 'ema.', s.ema.shadow);
    s.optimizer.loadStateDict({ tensors: group('optim.'), scalars: JSON.parse(meta.optimizer_scalars ?? '{}') });
  });
  return { step: Number(meta.step), extra: JSON.parse(meta.extra ?? '{}') as Record<string, unknown> };
}

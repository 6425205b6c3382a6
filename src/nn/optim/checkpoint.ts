// Training checkpoints, one module for every trainer: a safetensors file of named tensor groups (weights,
// optimizer moments, EMA) with the step, the optimizer's scalars and the run's settings in its metadata;
// settings must be equal on resume, so a resumed run computes exactly what an uninterrupted one would.
//   - saveTrainingCheckpoint / loadTrainingCheckpoint: one file per run (`model.*`, `optimizer.*`), for the
//     small trainers on the resumable loop (training-loop.ts);
//   - saveCheckpoint / loadCheckpoint / listCheckpoints: <out>/checkpoints/checkpoint-<step>.safetensors, the
//     last K kept, for the animator trainer (`param.*`, `optim.*`, `ema.*`; bad clips in the metadata).
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

const toRaw = (t: Tensor): RawTensor => t.detach().contiguous().to('cpu').raw();

/** Writes tensor groups (`prefix.name`) and metadata; the optimizer's tensors under `optimPrefix`, its scalars in the metadata. */
function writeState(path: string, groups: [string, Iterable<[string, Tensor]>][], opt: CheckpointableOptimizer, optimPrefix: string, meta: Record<string, string>): void {
  const tensors = new Map<string, RawTensor>();
  for (const [prefix, entries] of groups) for (const [k, t] of entries) tensors.set(`${prefix}.${k}`, toRaw(t));
  const { tensors: optTensors, scalars } = opt.stateDict();
  for (const [k, t] of optTensors) tensors.set(`${optimPrefix}.${k}`, toRaw(t));
  writeSafetensors(path, tensors, { ...meta, optimizer_scalars: JSON.stringify(scalars) });
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

/** The optimizer's tensors (under `prefix.`) and scalars, loaded into `opt`. */
function loadOptimizer(path: string, tensors: Map<string, RawTensor>, prefix: string, opt: CheckpointableOptimizer, meta: Record<string, string>): void {
  const optTensors = new Map<string, Tensor>();
  for (const [k, t] of tensors) if (k.startsWith(`${prefix}.`)) optTensors.set(k.slice(prefix.length + 1), torch.fromRaw(t));
  opt.loadStateDict({ tensors: optTensors, scalars: JSON.parse(meta.optimizer_scalars ?? '{}') });
  for (const t of optTensors.values()) t.dispose();
}

// ---- one file per run (training-loop.ts) ----

export interface TrainingState {
  step: number;
  /** JSON-serialisable extras (losses, validation history...). */
  extra: Record<string, unknown>;
}

/**
 * Writes model + optimizer + state. `format` names the trainer; `settings` (config and hyper-parameters) are
 * stored as JSON and must be equal on resume.
 */
export function saveTrainingCheckpoint(path: string, format: string, model: nn.Module, opt: CheckpointableOptimizer, settings: object, state: TrainingState): void {
  writeState(path, [['model', model.stateDict()]], opt, 'optimizer', {
    format, step: String(state.step), settings: JSON.stringify(settings), extra: JSON.stringify(state.extra),
  });
}

/** Loads a checkpoint written by saveTrainingCheckpoint into `model` and `opt`; errors name what differs. */
export function loadTrainingCheckpoint(path: string, format: string, model: nn.Module, opt: CheckpointableOptimizer, settings: object): TrainingState {
  const meta = readMeta(path, format, settings);
  const tensors = readSafetensors(path);
  const modelState = new Map<string, Tensor>();
  for (const [k, t] of tensors) if (k.startsWith('model.')) modelState.set(k.slice(6), torch.fromRaw(t));
  model.loadStateDict(modelState, { source: path });
  loadOptimizer(path, tensors, 'optimizer', opt, meta);
  return { step: Number(meta.step), extra: JSON.parse(meta.extra ?? '{}') };
}

// ---- numbered checkpoints (the animator trainer) ----

export const CHECKPOINT_FORMAT = 'stable-animator-train-checkpoint/1';
const NAME = /^checkpoint-(\d+)\.safetensors$/;

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

export interface TrainState {
  step: number;
  params: [string, Tensor][];
  optimizer: CheckpointableOptimizer;
  ema?: nn.EMA;
  /** Settings a resumed run must share (JSON-comparable). */
  settings: Record<string, unknown>;
  badClips: Record<string, string>;
}

/** Writes checkpoint-<step> (the data position is the step: batches are a function of (seed, step)); keeps the last `keep`. */
export function saveCheckpoint(dir: string, s: TrainState, keep: number): string {
  const path = checkpointPath(dir, s.step);
  writeState(path, [['param', s.params], ...(s.ema ? [['ema', s.ema.shadow] as [string, Iterable<[string, Tensor]>]] : [])], s.optimizer, 'optim', {
    format: CHECKPOINT_FORMAT, step: String(s.step), data_position: String(s.step), settings: JSON.stringify(s.settings), bad_clips: JSON.stringify(s.badClips),
  });
  const all = listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old.path, { force: true });
  return path;
}

/** Loads `path` into the state's tensors in place (the optimizer keeps its parameter references); returns the step and bad clips. */
export function loadCheckpoint(path: string, s: Omit<TrainState, 'step' | 'badClips'>): { step: number; badClips: Record<string, string> } {
  const meta = readMeta(path, CHECKPOINT_FORMAT, s.settings);
  const tensors = readSafetensors(path);
  const take = (key: string, into: Tensor) => {
    const t = tensors.get(key);
    if (!t) throw new Error(`${path}: expected tensor '${key}', not found`);
    if (t.shape.join() !== into.shape.join()) throw new Error(`${path}: '${key}' expected shape [${into.shape}], found [${t.shape}]`);
    torch.noGrad(() => torch.scope(() => into.copy_(torch.fromRaw(t))));
  };
  for (const [k, p] of s.params) take(`param.${k}`, p);
  if (s.ema) for (const [k, t] of s.ema.shadow) take(`ema.${k}`, t);
  loadOptimizer(path, tensors, 'optim', s.optimizer, meta);
  return { step: Number(meta.step), badClips: JSON.parse(meta.bad_clips ?? '{}') };
}

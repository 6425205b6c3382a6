// Training checkpoints: <out>/checkpoints/checkpoint-<step>.safetensors, each written atomically (temporary
// name, fsync, rename), the last K kept. One file holds everything a resumed run needs to continue exactly:
//   param.<name>   the trained weights (pose_net.*, face_encoder.*, unet.*; f32 master weights)
//   optim.<i>.<k>  AdamW's moments, with the step counts in the metadata
//   ema.<name>     the EMA weights (when EMA is on)
// and in the metadata the step, the data position (= the step: batches are a function of (seed, step)), the
// random state (none to save: every draw is seeded by (seed, step, sample)), the determinism-relevant settings
// (compared on resume) and the clips found bad so far.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../../torch/index.ts';
import type { RawTensor, Tensor } from '../../torch/index.ts';
import type * as nn from '../../nn/index.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../torch/serialization/index.ts';

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
  optimizer: nn.AdamW;
  ema?: nn.EMA;
  /** Settings a resumed run must share (JSON-comparable). */
  settings: Record<string, unknown>;
  badClips: Record<string, string>;
}

const raw = (t: Tensor): RawTensor => t.detach().contiguous().to('cpu').raw();

export function saveCheckpoint(dir: string, s: TrainState, keep: number): string {
  const tensors = new Map<string, RawTensor>();
  for (const [k, p] of s.params) tensors.set(`param.${k}`, raw(p));
  const opt = s.optimizer.stateDict();
  for (const [k, t] of opt.tensors) tensors.set(`optim.${k}`, raw(t));
  if (s.ema) for (const [k, t] of s.ema.shadow) tensors.set(`ema.${k}`, raw(t));
  const path = checkpointPath(dir, s.step);
  writeSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    step: String(s.step),
    data_position: String(s.step),
    settings: JSON.stringify(s.settings),
    optimizer_scalars: JSON.stringify(opt.scalars),
    bad_clips: JSON.stringify(s.badClips),
  });
  const all = listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old.path, { force: true });
  return path;
}

/** Loads `path` into the state's tensors in place (the optimizer keeps its parameter references); returns the step and bad clips. */
export function loadCheckpoint(path: string, s: Omit<TrainState, 'step' | 'badClips'>): { step: number; badClips: Record<string, string> } {
  const meta = readSafetensorsHeader(path).metadata;
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`${path}: expected a training checkpoint (format ${CHECKPOINT_FORMAT}), found format ${JSON.stringify(meta.format)}`);
  const saved = JSON.parse(meta.settings ?? '{}') as Record<string, unknown>;
  for (const key of new Set([...Object.keys(saved), ...Object.keys(s.settings)])) {
    const [a, b] = [JSON.stringify(saved[key]), JSON.stringify(s.settings[key])];
    if (a !== b) throw new Error(`${path}: the checkpoint was trained with ${key} = ${a}, this run has ${b}; resume with the same settings or use another output folder`);
  }
  const tensors = readSafetensors(path);
  const take = (key: string, into: Tensor) => {
    const t = tensors.get(key);
    if (!t) throw new Error(`${path}: expected tensor '${key}', not found`);
    if (t.shape.join() !== into.shape.join()) throw new Error(`${path}: '${key}' expected shape [${into.shape}], found [${t.shape}]`);
    torch.noGrad(() => torch.scope(() => into.copy_(torch.fromRaw(t))));
  };
  for (const [k, p] of s.params) take(`param.${k}`, p);
  if (s.ema) for (const [k, t] of s.ema.shadow) take(`ema.${k}`, t);
  const optTensors = new Map<string, Tensor>();
  for (const [k, t] of tensors) if (k.startsWith('optim.')) optTensors.set(k.slice(6), torch.fromRaw(t));
  s.optimizer.loadStateDict({ tensors: optTensors, scalars: JSON.parse(meta.optimizer_scalars ?? '{}') });
  for (const t of optTensors.values()) t.dispose();
  return { step: Number(meta.step), badClips: JSON.parse(meta.bad_clips ?? '{}') };
}

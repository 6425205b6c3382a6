// What every small trainer here needs to resume exactly: a checkpoint (model weights, optimizer moments and
// scalars, the step, the losses, and the run's settings, which must match on resume) in one safetensors file.
// (Per-step RNGs: seeds.ts positionRng(seed, step).)

import * as torch from '../torch/index.ts';
import type { RawTensor, Tensor } from '../torch/index.ts';
import type * as nn from '../nn/index.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../torch/serialization/index.ts';

/** The loss curve's smoothing, under the name the trainers built on this module use. */
export { smooth as movingAverage } from '../util/loss-curve.ts';

/** The part of an optimizer a checkpoint needs. */
export interface CheckpointableOptimizer {
  stateDict(): { tensors: Map<string, Tensor>; scalars: Record<string, number> };
  loadStateDict(sd: { tensors: Map<string, Tensor>; scalars: Record<string, number> }): void;
}

const toRaw = (t: Tensor): RawTensor => t.detach().contiguous().raw();

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
  const tensors = new Map<string, RawTensor>();
  for (const [k, t] of model.stateDict()) tensors.set(`model.${k}`, toRaw(t));
  const { tensors: optTensors, scalars } = opt.stateDict();
  for (const [k, t] of optTensors) tensors.set(`optimizer.${k}`, toRaw(t));
  writeSafetensors(path, tensors, {
    format, step: String(state.step), settings: JSON.stringify(settings), optimizer_scalars: JSON.stringify(scalars), extra: JSON.stringify(state.extra),
  });
}

/** Loads a checkpoint written by saveTrainingCheckpoint into `model` and `opt`; errors name what differs. */
export function loadTrainingCheckpoint(path: string, format: string, model: nn.Module, opt: CheckpointableOptimizer, settings: object): TrainingState {
  const meta = readSafetensorsHeader(path).metadata;
  if (meta.format !== format) throw new Error(`${path}: expected a ${format} checkpoint, found format ${JSON.stringify(meta.format)}`);
  const saved = JSON.parse(meta.settings ?? '{}') as Record<string, unknown>;
  for (const [key, value] of Object.entries(settings)) {
    const [a, b] = [JSON.stringify(saved[key]), JSON.stringify(value)];
    if (a !== b) throw new Error(`${path}: the checkpoint was trained with ${key} = ${a}, this run asks for ${b}; resume with the same options or use another output folder`);
  }
  const modelState = new Map<string, Tensor>();
  const optTensors = new Map<string, Tensor>();
  for (const [k, t] of readSafetensors(path)) {
    if (k.startsWith('model.')) modelState.set(k.slice(6), torch.fromRaw(t));
    else if (k.startsWith('optimizer.')) optTensors.set(k.slice(10), torch.fromRaw(t));
  }
  model.loadStateDict(modelState, { source: path });
  opt.loadStateDict({ tensors: optTensors, scalars: JSON.parse(meta.optimizer_scalars ?? '{}') });
  return { step: Number(meta.step), extra: JSON.parse(meta.extra ?? '{}') };
}

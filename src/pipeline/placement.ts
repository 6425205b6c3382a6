// Where each model of the pipeline runs, and where it rests between its stages. The accelerator's memory is
// what runs out first (peers' users at 16-24 GB): the VAE and the CLIP image encoder can run elsewhere
// (`vaeDevice`, `imageEncoderDevice`), and with `offload` every model rests on the CPU and is moved to its device
// only for the stage that runs it (diffusers' enable_model_cpu_offload), so the accelerator holds one stage's
// models at a time instead of all of them.
import type { Device } from '../torch/index.ts';
import type * as nn from '../nn/index.ts';

export type ModelName = 'unet' | 'poseNet' | 'faceEncoder' | 'faceRecognizer' | 'vae' | 'imageEncoder';

export const MODEL_NAMES: readonly ModelName[] = ['unet', 'poseNet', 'faceEncoder', 'faceRecognizer', 'vae', 'imageEncoder'];

export interface PlacementOptions {
  /** Where the UNet, PoseNet, Face Encoder and face recognizer run (default cpu). */
  device?: Device;
  /** Where the VAE runs (default `device`). */
  vaeDevice?: Device;
  /** Where the CLIP image encoder runs (default `device`). */
  imageEncoderDevice?: Device;
  /** Rest every model on the CPU; move it to its device only while its stage runs. */
  offload?: boolean;
}

export interface Placement {
  /** Where each model runs. */
  run: Record<ModelName, Device>;
  offload: boolean;
}

export function placementOf(opts: PlacementOptions = {}): Placement {
  const device = opts.device ?? 'cpu';
  const run = Object.fromEntries(MODEL_NAMES.map((m) => [m, device])) as Record<ModelName, Device>;
  run.vae = opts.vaeDevice ?? device;
  run.imageEncoder = opts.imageEncoderDevice ?? device;
  return { run, offload: !!opts.offload };
}

/** Where a model is kept between its stages (and loaded to). */
export function restingDevice(p: Placement, model: ModelName): Device {
  return p.offload ? 'cpu' : p.run[model];
}

/** The device a module's parameters are on. */
export function deviceOf(m: nn.Module): Device {
  const p = m.parameters()[0];
  if (!p) throw new Error(`${m.constructor.name} has no parameters`);
  return p.device;
}

/**
 * Runs `fn` with the named models on their run devices: with offload, moved there first and back to the CPU
 * afterwards (also when fn throws); without, they are there already. `onPlaced` sees every model's device
 * while fn runs (what a test or a memory log checks).
 */
export function withModels<T, S extends string>(
  models: Partial<Record<ModelName, nn.Module>>, p: Placement, names: ModelName[], stage: S, fn: () => T,
  onPlaced?: (stage: S, devices: Partial<Record<ModelName, Device>>) => void,
): T {
  const used = names.filter((n) => models[n]);
  if (p.offload) for (const n of used) models[n]!.to(p.run[n]);
  try {
    if (onPlaced) onPlaced(stage, Object.fromEntries(MODEL_NAMES.filter((n) => models[n]).map((n) => [n, deviceOf(models[n]!)])));
    return fn();
  } finally {
    if (p.offload) for (const n of used) models[n]!.to('cpu');
  }
}

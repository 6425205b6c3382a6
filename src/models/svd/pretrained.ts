// Loading a diffusers model folder (config.json + diffusion_pytorch_model[.fp16].safetensors, or a
// sharded `.safetensors.index.json`) into a model built on the 'meta' device: the checkpoint's names
// and shapes are checked against the model from the file headers before any data is read, then the
// tensors are read in groups of bounded size, converted to the requested dtype/device and adopted, so
// the peak memory stays near the model's own size.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../../torch/index.ts';
import type { Device, DType } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { writeSafetensors } from '../../torch/serialization/index.ts';
import { loadWeights } from '../checkpoint.ts';

export interface PretrainedOptions {
  /** Floating tensors are converted to this dtype (default 'f32', as diffusers without torch_dtype). */
  dtype?: DType;
  device?: Device;
  /** Prefer `diffusion_pytorch_model.fp16.safetensors` (otherwise it is the fallback). */
  variant?: 'fp16';
}

const WEIGHTS = 'diffusion_pytorch_model';

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

export { loadWeights };

/**
 * Writes a model folder that fromPretrained reads back: `config.json` (with `_class_name`) and the state dict as
 * `<weightsName>` (default diffusers' name; transformers models use 'model.safetensors'), each atomically.
 */
export function savePretrained(dir: string, className: string, config: Record<string, unknown>, model: nn.Module, weightsName = `${WEIGHTS}.safetensors`): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map([...model.stateDict()].map(([k, t]) => [k, t.detach().contiguous().raw()] as const));
  const write = (name: string, fn: (tmp: string) => void) => {
    const tmp = join(dir, `.${name}.tmp`);
    fn(tmp);
    renameSync(tmp, join(dir, name));
  };
  write(weightsName, (tmp) => writeSafetensors(tmp, tensors, { format: 'pt' }));
  write('config.json', (tmp) => writeFileSync(tmp, `${JSON.stringify({ _class_name: className, ...config }, null, 2)}\n`));
}

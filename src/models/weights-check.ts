// Validating a checkpoint folder without loading tensors: every file of the layout is looked for, state dicts
// are compared with the reference key lists from their headers only (safetensors JSON header, the .pth
// pickle), configs are parsed and compared with the structure the key lists were made for.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DType } from '../torch/dtype.ts';
import { readCheckpointHeader } from '../torch/serialization/index.ts';
import { EulerDiscreteScheduler } from '../sampling/euler-discrete.ts';
import { findWeightFile, keyList, MINIATURE_INFO_FILE, WEIGHT_FILES, weightSpec, type KeyListName, type WeightFileSpec, type WeightsRoot } from './weights-layout.ts';
import type { Device } from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import { PoseNet } from './animator/pose-net.ts';
import { StableAnimatorUNet } from './animator/stable-animator-unet.ts';
import { FusionFaceId } from './face/face-encoder.ts';
import { IResNet } from './face/iresnet.ts';
import { AutoencoderKLTemporalDecoder } from './svd/autoencoder.ts';
import { CLIPVisionModelWithProjection } from './svd/clip-vision.ts';

export type CheckStatus = 'ok' | 'missing' | 'invalid';

export interface FileCheck {
  spec: WeightFileSpec;
  /** The file found, or the preferred path when missing. */
  path: string;
  status: CheckStatus;
  /** Whether the file is needed for the requested use. */
  needed: boolean;
  /** What is wrong (invalid), or notes. */
  messages: string[];
  bytes?: number;
}

export interface CheckOptions {
  /** HJB face optimisation will be used (needs glintr100_torch.pth). */
  hjb?: boolean;
  /** DWPose will be used for pose extraction. */
  dwpose?: boolean;
}

const FLOAT: Record<string, DType[]> = { float32: ['f32', 'f16', 'bf16', 'f64'], float16: ['f16', 'f32', 'bf16'] };
const EXACT: Record<string, DType> = { int64: 'i64', int32: 'i32', bool: 'bool', uint8: 'u8' };
const MAX_LISTED = 8;

const list = (what: string, items: string[]) =>
  `${what} (${items.length}): ${items.slice(0, MAX_LISTED).join(', ')}${items.length > MAX_LISTED ? `, ... (${items.length - MAX_LISTED} more)` : ''}`;

/** Differences between a state dict's names/shapes/dtypes and a reference key list (empty when it matches). */
export function compareKeys(found: Map<string, { dtype: DType; shape: number[] }>, name: KeyListName): string[] {
  const ref = keyList(name);
  const problems: string[] = [];
  const missing = ref.keys.filter(([k]) => !found.has(k) && !ref.optional(k)).map(([k]) => k);
  const expected = new Set(ref.keys.map(([k]) => k));
  const unexpected = [...found.keys()].filter((k) => !expected.has(k) && !ref.allowedExtra(k));
  const shapes: string[] = [];
  const dtypes: string[] = [];
  for (const [k, shape, dtype] of ref.keys) {
    const f = found.get(k);
    if (!f) continue;
    if (f.shape.join() !== shape.join()) shapes.push(`${k} [${f.shape}] (expected [${shape}])`);
    const ok = FLOAT[dtype] ? FLOAT[dtype].includes(f.dtype) : EXACT[dtype] === f.dtype;
    if (!ok) dtypes.push(`${k} ${f.dtype} (expected ${dtype})`);
  }
  if (missing.length) problems.push(list('missing keys', missing));
  if (unexpected.length) problems.push(list('unexpected keys', unexpected));
  if (shapes.length) problems.push(list('wrong shapes', shapes));
  if (dtypes.length) problems.push(list('wrong dtypes', dtypes));
  return problems;
}

/** Structural fields a config must share with the key list's (the model the keys describe). */
const STRUCTURE: Partial<Record<string, { keys: KeyListName; fields: string[]; className?: string }>> = {
  unet_config: {
    keys: 'unet', className: 'UNetSpatioTemporalConditionModel',
    fields: ['in_channels', 'out_channels', 'down_block_types', 'up_block_types', 'block_out_channels', 'layers_per_block',
      'cross_attention_dim', 'num_attention_heads', 'addition_time_embed_dim', 'projection_class_embeddings_input_dim', 'transformer_layers_per_block'],
  },
  vae_config: {
    keys: 'vae_svd_temporal', className: 'AutoencoderKLTemporalDecoder',
    fields: ['in_channels', 'out_channels', 'down_block_types', 'block_out_channels', 'layers_per_block', 'latent_channels'],
  },
  image_encoder_config: { keys: 'clip_vit_h14_vision_with_projection', fields: ['hidden_size', 'num_hidden_layers', 'projection_dim', 'patch_size', 'image_size'] },
};

function checkJson(spec: WeightFileSpec, path: string): string[] {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    return [`not valid JSON: ${(e as Error).message}`];
  }
  if (spec.id === 'scheduler') {
    try {
      EulerDiscreteScheduler.fromConfig(json);
      return json.prediction_type === 'v_prediction' ? [] : [`prediction_type is ${String(json.prediction_type)}, SVD uses v_prediction`];
    } catch (e) {
      return [(e as Error).message];
    }
  }
  const s = STRUCTURE[spec.id];
  if (!s) return [];
  const problems: string[] = [];
  if (s.className && json._class_name !== undefined && json._class_name !== s.className) problems.push(`describes a ${String(json._class_name)}, expected ${s.className}`);
  const want = keyList(s.keys).config;
  // a full CLIPConfig nests the vision fields
  const fields = (typeof json.vision_config === 'object' && json.vision_config !== null ? json.vision_config : json) as Record<string, unknown>;
  for (const f of s.fields) {
    if (want[f] === undefined) continue;
    if (JSON.stringify(fields[f]) !== JSON.stringify(want[f])) problems.push(`${f} is ${JSON.stringify(fields[f])}, expected ${JSON.stringify(want[f])}`);
  }
  return problems;
}

/** Differences between a state dict's names/shapes and those of `model` (built from the folder's own configs). */
function compareWithModel(found: Map<string, { shape: number[] }>, model: nn.Module): string[] {
  const want = model.stateDict();
  const missing = [...want.keys()].filter((k) => !found.has(k) && !k.endsWith('num_batches_tracked'));
  const unexpected = [...found.keys()].filter((k) => !want.has(k));
  const shapes = [...want].flatMap(([k, t]) => {
    const f = found.get(k);
    return f && f.shape.join() !== t.shape.join() ? [`${k} [${f.shape}] (expected [${t.shape}])`] : [];
  });
  return [
    ...(missing.length ? [list('missing keys', missing)] : []),
    ...(unexpected.length ? [list('unexpected keys', unexpected)] : []),
    ...(shapes.length ? [list('wrong shapes', shapes)] : []),
  ];
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/**
 * A folder that declares a structure of its own (the miniature: miniature.json beside the released layout) is
 * checked against itself: each state dict against the model its own config (or header) describes. Undefined
 * for the released layout, which is checked against the reference key lists (a changed config is an error).
 */
function ownStructure(root: WeightsRoot): ((spec: WeightFileSpec, path: string) => string[]) | undefined {
  if (root === undefined) return undefined; // the cache holds the released layout
  const unetConfigPath = findWeightFile(root, weightSpec('unet_config'));
  if (!unetConfigPath || !existsSync(join(root, MINIATURE_INFO_FILE))) return undefined;
  let unetJson: Record<string, unknown>;
  try {
    unetJson = readJson(unetConfigPath);
  } catch {
    return undefined; // reported as invalid JSON by its own check
  }
  if (checkJson(weightSpec('unet_config'), unetConfigPath).length === 0) return undefined;
  const configOf = (id: string) => {
    const path = findWeightFile(root, weightSpec(id));
    if (!path) throw new Error(`its model is described by ${weightSpec(id).candidates[0]}, which is missing`);
    return readJson(path);
  };
  const faceEncoderPath = findWeightFile(root, weightSpec('face_encoder'));
  const faceTokens = () => (faceEncoderPath ? FusionFaceId.configFromHeader(readCheckpointHeader(faceEncoderPath), faceEncoderPath).num_tokens : undefined);
  const build: Partial<Record<string, (header: Map<string, { shape: number[] }>, path: string) => nn.Module>> = {
    unet: () => StableAnimatorUNet.fromConfig(unetJson, { numFaceTokens: faceTokens() }),
    pose_net: () => new PoseNet((unetJson.block_out_channels as number[])[0]),
    face_encoder: (h, path) => {
      const c = FusionFaceId.configFromHeader(h, path);
      return new FusionFaceId(c.cross_attention_dim, c.id_embeddings_dim, c.clip_embeddings_dim, c.num_tokens);
    },
    arcface: (h, path) => new IResNet(IResNet.configFromHeader(h, path)),
    vae: () => AutoencoderKLTemporalDecoder.fromConfig(configOf('vae_config')),
    image_encoder: () => CLIPVisionModelWithProjection.fromConfig(configOf('image_encoder_config')),
  };
  return (spec, path) => {
    if (spec.format === 'json') {
      // parsed; the structure it describes is the folder's own
      try {
        const json = readJson(path);
        const s = STRUCTURE[spec.id];
        return s?.className && json._class_name !== undefined && json._class_name !== s.className ? [`describes a ${String(json._class_name)}, expected ${s.className}`] : [];
      } catch (e) {
        return [`not valid JSON: ${(e as Error).message}`];
      }
    }
    const make = build[spec.id];
    if (!make) return spec.keys ? compareKeys(readCheckpointHeader(path), spec.keys) : [];
    const header = readCheckpointHeader(path);
    const model = nn.withInit({ device: 'meta' as Device }, () => make(header, path));
    return compareWithModel(header, model);
  };
}

export function checkFile(root: WeightsRoot, spec: WeightFileSpec, needed: boolean, own?: (spec: WeightFileSpec, path: string) => string[]): FileCheck {
  const path = findWeightFile(root, spec);
  if (!path) return { spec, path: root === undefined ? spec.candidates[0] : join(root, spec.candidates[0]), status: 'missing', needed, messages: [] };
  const bytes = statSync(path).size;
  let messages: string[];
  try {
    if (bytes === 0) messages = ['empty file'];
    else if (own) messages = own(spec, path);
    else if (spec.format === 'json') messages = checkJson(spec, path);
    else if (spec.keys) messages = compareKeys(readCheckpointHeader(path), spec.keys);
    else messages = [];
  } catch (e) {
    messages = [`unreadable: ${(e as Error).message}`];
  }
  return { spec, path, status: messages.length ? 'invalid' : 'ok', needed, messages, bytes };
}

/**
 * Checks every file of the layout; `needed` follows the intended use. The released structure is compared with
 * the reference key lists; a folder of another structure (the miniature) with the models its configs describe.
 */
export function checkWeightsFolder(root: WeightsRoot, opts: CheckOptions = {}): FileCheck[] {
  const own = ownStructure(root);
  return WEIGHT_FILES.map((spec) => {
    const needed = spec.need === 'always' || (spec.need === 'hjb' && !!opts.hjb) || (spec.need === 'dwpose' && !!opts.dwpose);
    return checkFile(root, spec, needed, own);
  });
}

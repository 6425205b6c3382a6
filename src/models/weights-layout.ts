// The released checkpoint folder (Hugging Face FrancisRing/StableAnimator), file by file: where each model's
// weights live, in which format, which key list they must match (src/models/keys/, the reference state
// dicts' names and shapes), and when they are needed. A path may have alternatives (fp16 variants); the first
// one present is used. The layout lives in a folder, or by default in the Hugging Face cache (io/hf-cache.ts),
// each path looked up in the repositories that publish it (HUB_SOURCES).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedFile, hfHubCache } from '../io/hf-cache.ts';

export const SVD_DIR = 'stable-video-diffusion-img2vid-xt';

/** The released checkpoints (the whole layout below). */
export const HUB_REPO = 'FrancisRing/StableAnimator';
export const SVD_REPO = 'stabilityai/stable-video-diffusion-img2vid-xt';

/**
 * Where the default location finds a layout path, in order: SVD-xt's own repository for its files (diffusers'
 * users have them), DWPose's for its models, then the StableAnimator release, which holds every path.
 */
export const HUB_SOURCES: readonly { prefix: string; repo: string }[] = [
  { prefix: `${SVD_DIR}/`, repo: SVD_REPO },
  { prefix: 'DWPose/', repo: 'yzd-v/DWPose' },
  { prefix: '', repo: HUB_REPO },
];

/** The repositories (and paths in them) that publish a layout path, in lookup order. */
export function hubSourcesOf(path: string): { repo: string; path: string }[] {
  return HUB_SOURCES.filter((s) => path.startsWith(s.prefix)).map((s) => ({ repo: s.repo, path: path.slice(s.prefix.length) }));
}

/** Where a layout is: a folder, or undefined for the default location, the Hugging Face cache (`main` snapshots). */
export type WeightsRoot = string | undefined;

export function describeWeightsRoot(root: WeightsRoot): string {
  return root ?? `the Hugging Face cache (${hfHubCache()})`;
}

/** A layout path under root, or in the cache's snapshots of the repositories that publish it; undefined when absent. */
export function locateWeightPath(root: WeightsRoot, path: string): string | undefined {
  if (root !== undefined) return existsSync(join(root, path)) ? join(root, path) : undefined;
  for (const s of hubSourcesOf(path)) {
    const hit = cachedFile(s.repo, s.path);
    if (hit) return hit;
  }
  return undefined;
}

/** Beside the released layout in a miniature's folder (`mini train`): its data, split and sizes. */
export const MINIATURE_INFO_FILE = 'miniature.json';

export type WeightFormat = 'pth' | 'safetensors' | 'json' | 'onnx' | 'folder';
/** always: every animation; hjb: with HJB; face: an alternative reference-face embedder; optional: not needed. */
export type WeightNeed = 'always' | 'hjb' | 'face' | 'dwpose' | 'optional';

export interface WeightFileSpec {
  id: string;
  /** Paths relative to the weights folder, preferred first. */
  candidates: string[];
  format: WeightFormat;
  /** Key list (src/models/keys/<name>.json) the state dict must match. */
  keys?: KeyListName;
  need: WeightNeed;
  purpose: string;
}

export type KeyListName = 'posenet' | 'face_encoder' | 'unet' | 'unet_svd' | 'iresnet100' | 'clip_vit_h14_vision_with_projection' | 'vae_svd_temporal';

export const WEIGHT_FILES: readonly WeightFileSpec[] = [
  // the .safetensors alternatives are what `stable-animator train` exports (and the miniature ships)
  { id: 'pose_net', candidates: ['Animation/pose_net.pth', 'Animation/pose_net.safetensors'], format: 'pth', keys: 'posenet', need: 'always', purpose: 'PoseNet' },
  { id: 'face_encoder', candidates: ['Animation/face_encoder.pth', 'Animation/face_encoder.safetensors'], format: 'pth', keys: 'face_encoder', need: 'always', purpose: 'Face Encoder (FusionFaceId)' },
  { id: 'unet', candidates: ['Animation/unet.pth', 'Animation/unet.safetensors'], format: 'pth', keys: 'unet', need: 'always', purpose: 'StableAnimator UNet with ID-Adapters' },
  {
    id: 'arcface', candidates: ['Animation/glintr100_torch.pth', 'Animation/face_id.safetensors'], format: 'pth', keys: 'iresnet100', need: 'hjb',
    purpose: 'ArcFace iResNet-100 (HJB face loss; reference face embedding without antelopev2), or the miniature\'s face-ID iResNet',
  },
  { id: 'unet_config', candidates: [`${SVD_DIR}/unet/config.json`], format: 'json', need: 'always', purpose: 'SVD-xt UNet config' },
  {
    id: 'image_encoder', candidates: [`${SVD_DIR}/image_encoder/model.fp16.safetensors`, `${SVD_DIR}/image_encoder/model.safetensors`],
    format: 'safetensors', keys: 'clip_vit_h14_vision_with_projection', need: 'always', purpose: 'CLIP ViT-H/14 image encoder',
  },
  { id: 'image_encoder_config', candidates: [`${SVD_DIR}/image_encoder/config.json`], format: 'json', need: 'always', purpose: 'CLIP config' },
  {
    id: 'vae', candidates: [`${SVD_DIR}/vae/diffusion_pytorch_model.fp16.safetensors`, `${SVD_DIR}/vae/diffusion_pytorch_model.safetensors`],
    format: 'safetensors', keys: 'vae_svd_temporal', need: 'always', purpose: 'SVD temporal VAE',
  },
  { id: 'vae_config', candidates: [`${SVD_DIR}/vae/config.json`], format: 'json', need: 'always', purpose: 'VAE config' },
  { id: 'scheduler', candidates: [`${SVD_DIR}/scheduler/scheduler_config.json`], format: 'json', need: 'always', purpose: 'Euler scheduler config' },
  {
    id: 'svd_unet', candidates: [`${SVD_DIR}/unet/diffusion_pytorch_model.fp16.safetensors`, `${SVD_DIR}/unet/diffusion_pytorch_model.safetensors`],
    format: 'safetensors', keys: 'unet_svd', need: 'optional', purpose: 'SVD-xt UNet weights (not needed: unet.pth holds the whole UNet)',
  },
  { id: 'antelopev2_glintr100', candidates: ['models/antelopev2/glintr100.onnx'], format: 'onnx', need: 'face', purpose: 'ArcFace (ONNX) for the reference face embedding, as the reference' },
  { id: 'dwpose_det', candidates: ['DWPose/yolox_l.onnx'], format: 'onnx', need: 'dwpose', purpose: 'DWPose person detector' },
  { id: 'dwpose_pose', candidates: ['DWPose/dw-ll_ucoco_384.onnx'], format: 'onnx', need: 'dwpose', purpose: 'DWPose whole-body keypoints' },
];

export function weightSpec(id: string): WeightFileSpec {
  const spec = WEIGHT_FILES.find((s) => s.id === id);
  if (!spec) throw new Error(`unknown weight file '${id}'`);
  return spec;
}

/** The first candidate of `spec` present under root (or in the cache), or undefined. */
export function findWeightFile(root: WeightsRoot, spec: WeightFileSpec): string | undefined {
  for (const c of spec.candidates) {
    const hit = locateWeightPath(root, c);
    if (hit) return hit;
  }
  return undefined;
}

export interface KeyList {
  /** [name, shape, dtype] in state-dict order; dtype 'float32' unless the list says otherwise. */
  keys: [string, number[], string][];
  /** Keys a checkpoint may omit. */
  optional(key: string): boolean;
  /** Extra keys a checkpoint may carry. */
  allowedExtra(key: string): boolean;
  config: Record<string, unknown>;
}

const cache = new Map<KeyListName, KeyList>();

/** The reference key list of a model (shipped in src/models/keys/). */
export function keyList(name: KeyListName): KeyList {
  const hit = cache.get(name);
  if (hit) return hit;
  const file = name === 'unet_svd' ? 'unet' : name;
  const json = JSON.parse(readFileSync(new URL(`./keys/${file}.json`, import.meta.url), 'utf8')) as { keys: [string, number[], string?][]; config: Record<string, unknown> };
  let keys = json.keys.map(([k, s, d]) => [k, s, d ?? 'float32'] as [string, number[], string]);
  if (name === 'unet_svd') keys = keys.filter(([k]) => !k.includes('.processor.id_to_'));
  const list: KeyList = {
    keys,
    config: json.config,
    optional: (k) => k.endsWith('.num_batches_tracked'),
    allowedExtra: (k) => k === 'vision_model.embeddings.position_ids',
  };
  cache.set(name, list);
  return list;
}

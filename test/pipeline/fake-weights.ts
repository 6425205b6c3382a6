// Checkpoint folders for tests:
//   - `writeFullSizeLayout`: the released layout at FULL size with header-only files (a .pth whose zip holds
//     only the pickle, safetensors files that are sparse past their header), enough for `weights check`;
//   - `writeTinyWeights`: real tiny models as safetensors plus an SVD folder, for `animate` end to end.
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as nn from '../../src/nn/index.ts';
import { writeSafetensors } from '../../src/torch/serialization/index.ts';
import { keyList, SVD_DIR, type KeyListName } from '../../src/models/weights-layout.ts';
import { buildZip, concat, op } from '../serialization/helpers.ts';
import { TINY_UNET_CONFIG, tinyComponents } from './tiny.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures');

function ensureDir(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
}

const STORAGE: Record<string, string> = { f32: 'FloatStorage', f16: 'HalfStorage', i64: 'LongStorage' };

/** A torch.save zip holding only data.pkl: a state dict of (name, shape, dtype) whose storages are absent. */
export function writeHeaderOnlyPth(path: string, entries: [string, number[], string?][]): void {
  const ints = (xs: number[]) => concat(op.mark, ...xs.map(op.int), op.tuple);
  const strides = (shape: number[]) => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const items = entries.map(([name, shape, dtype], i) => concat(
    op.str(name),
    op.global('torch._utils', '_rebuild_tensor_v2'),
    op.mark,
    op.mark, op.str('storage'), op.global('torch', STORAGE[dtype ?? 'f32']), op.str(String(i)), op.str('cpu'),
    op.int(shape.reduce((a, b) => a * b, 1)), op.tuple, op.binpersid,
    op.int(0), ints(shape), ints(strides(shape)), op.newfalse,
    op.global('collections', 'OrderedDict'), op.emptyTuple, op.reduce,
    op.tuple, op.reduce,
  ));
  const pickle = concat(op.proto(2), op.emptyDict, op.mark, ...items, op.setitems, op.stop);
  ensureDir(path);
  writeFileSync(path, buildZip([{ name: 'archive/data.pkl', data: pickle }, { name: 'archive/byteorder', data: new TextEncoder().encode('little') }]));
}

/** A safetensors file with a real header and a sparse (unwritten) data section. */
export function writeSparseSafetensors(path: string, entries: [string, number[]][], dtype: 'F16' | 'F32' = 'F16'): void {
  const size = dtype === 'F16' ? 2 : 4;
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of entries) {
    const n = shape.reduce((a, b) => a * b, 1) * size;
    header[name] = { dtype, shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(padded.length), true);
  ensureDir(path);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, padded);
    ftruncateSync(fd, 8 + padded.length + offset);
  } finally {
    closeSync(fd);
  }
}

const keysOf = (name: KeyListName) => keyList(name).keys.filter(([k]) => !k.endsWith('.num_batches_tracked'));

function writeJson(path: string, value: unknown): void {
  ensureDir(path);
  writeFileSync(path, JSON.stringify(value, null, 1));
}

/** The full released layout (headers only). */
export function writeFullSizeLayout(root: string): void {
  for (const [file, keys] of [['pose_net', 'posenet'], ['face_encoder', 'face_encoder'], ['unet', 'unet'], ['glintr100_torch', 'iresnet100']] as const) {
    writeHeaderOnlyPth(join(root, 'Animation', `${file}.pth`), keysOf(keys).map(([k, s]) => [k, s]));
  }
  const svd = join(root, SVD_DIR);
  writeJson(join(svd, 'unet', 'config.json'), { _class_name: 'UNetSpatioTemporalConditionModel', ...keyList('unet').config });
  writeJson(join(svd, 'vae', 'config.json'), { _class_name: 'AutoencoderKLTemporalDecoder', ...keyList('vae_svd_temporal').config });
  writeJson(join(svd, 'image_encoder', 'config.json'), keyList('clip_vit_h14_vision_with_projection').config);
  writeSparseSafetensors(join(svd, 'vae', 'diffusion_pytorch_model.fp16.safetensors'), keysOf('vae_svd_temporal').map(([k, s]) => [k, s]));
  writeSparseSafetensors(join(svd, 'image_encoder', 'model.fp16.safetensors'), keysOf('clip_vit_h14_vision_with_projection').map(([k, s]) => [k, s]));
  ensureDir(join(svd, 'scheduler', 'x'));
  writeFileSync(join(svd, 'scheduler', 'scheduler_config.json'), readFileSync(join(FIX, 'scheduler_svd', 'scheduler_config.json')));
}

function saveModel(path: string, model: nn.Module): void {
  ensureDir(path);
  writeSafetensors(path, new Map([...model.stateDict()].map(([k, t]) => [k, t.contiguous().raw()])));
}

export interface TinyWeights {
  /** CLI arguments pointing at every file. */
  args: string[];
}

/** Tiny real models: the UNet, PoseNet, Face Encoder, iResNet as safetensors; an SVD folder with VAE, CLIP, configs. */
export function writeTinyWeights(root: string, seed = 0): TinyWeights {
  const c = tinyComponents(seed);
  const svd = join(root, 'svd');
  saveModel(join(root, 'unet.safetensors'), c.unet);
  saveModel(join(root, 'pose_net.safetensors'), c.poseNet);
  saveModel(join(root, 'face_encoder.safetensors'), c.faceEncoder);
  saveModel(join(root, 'arcface.safetensors'), c.faceRecognizer);
  writeJson(join(svd, 'unet', 'config.json'), { ...TINY_UNET_CONFIG, _class_name: 'UNetSpatioTemporalConditionModel' });
  writeJson(join(svd, 'vae', 'config.json'), { _class_name: 'AutoencoderKLTemporalDecoder', ...c.vae.config });
  saveModel(join(svd, 'vae', 'diffusion_pytorch_model.safetensors'), c.vae);
  writeJson(join(svd, 'image_encoder', 'config.json'), { ...c.imageEncoder.config });
  saveModel(join(svd, 'image_encoder', 'model.safetensors'), c.imageEncoder);
  ensureDir(join(svd, 'scheduler', 'x'));
  writeFileSync(join(svd, 'scheduler', 'scheduler_config.json'), readFileSync(join(FIX, 'scheduler_svd', 'scheduler_config.json')));
  return {
    args: ['--unet', join(root, 'unet.safetensors'), '--pose-net', join(root, 'pose_net.safetensors'), '--face-encoder', join(root, 'face_encoder.safetensors'),
      '--arcface', join(root, 'arcface.safetensors'), '--svd', svd],
  };
}

// Loading the pipeline's models from a folder laid out as the released checkpoints (see
// models/weights-layout.ts), any single file overridable. Missing files are reported all at once, with what
// each is for, before anything is loaded.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Device, DType } from '../torch/index.ts';
import { PoseNet } from '../models/animator/pose-net.ts';
import { StableAnimatorUNet } from '../models/animator/stable-animator-unet.ts';
import { FusionFaceId } from '../models/face/face-encoder.ts';
import { IResNet } from '../models/face/iresnet.ts';
import { AutoencoderKLTemporalDecoder } from '../models/svd/autoencoder.ts';
import { CLIPVisionModelWithProjection } from '../models/svd/clip-vision.ts';
import { findWeightFile, MINIATURE_INFO_FILE, weightSpec } from '../models/weights-layout.ts';
import type { SkeletonStyle } from '../pose/render.ts';
import { EulerDiscreteScheduler } from '../sampling/euler-discrete.ts';
import type { StableAnimatorComponents } from './animate.ts';

export interface WeightPaths {
  poseNet: string;
  faceEncoder: string;
  unet: string;
  /** Folder with the UNet's config.json. */
  unetConfigDir: string;
  imageEncoderDir: string;
  vaeDir: string;
  schedulerConfig: string;
  /** glintr100_torch.pth (HJB; reference face embedding when there is no ONNX ArcFace). */
  arcface?: string;
  /** antelopev2 glintr100.onnx. */
  arcfaceOnnx?: string;
  /** Folder with yolox_l.onnx and dw-ll_ucoco_384.onnx. */
  dwposeDir?: string;
}

export type WeightOverrides = Partial<Record<'poseNet' | 'faceEncoder' | 'unet' | 'arcface' | 'arcfaceOnnx' | 'svdDir', string>>;

/**
 * The files under `root`, with overrides. The iResNet is required for HJB, and for the reference face when
 * there is no ONNX ArcFace unless `noFaceEmbeddings` (a caller that never embeds a face, e.g. training with
 * zero face embeddings). Throws one error listing every missing required file.
 */
export function resolveWeightPaths(root: string | undefined, overrides: WeightOverrides = {}, opts: { hjb?: boolean; noFaceEmbeddings?: boolean } = {}): WeightPaths {
  const missing: string[] = [];
  const find = (id: string, override: string | undefined, required: boolean): string | undefined => {
    if (override) return override;
    const spec = weightSpec(id);
    const svdRelative = overrides.svdDir && spec.candidates[0].startsWith('stable-video-diffusion-img2vid-xt/');
    const path = svdRelative
      ? findWeightFile(overrides.svdDir!, { ...spec, candidates: spec.candidates.map((c) => c.slice(c.indexOf('/') + 1)) })
      : root !== undefined ? findWeightFile(root, spec) : undefined;
    if (!path && required) missing.push(`${spec.candidates[0]} (${spec.purpose})`);
    return path;
  };
  const arcfaceOnnx = find('antelopev2_glintr100', overrides.arcfaceOnnx, false);
  const paths = {
    poseNet: find('pose_net', overrides.poseNet, true),
    faceEncoder: find('face_encoder', overrides.faceEncoder, true),
    unet: find('unet', overrides.unet, true),
    unetConfig: find('unet_config', undefined, true),
    imageEncoder: find('image_encoder', undefined, true),
    vae: find('vae', undefined, true),
    scheduler: find('scheduler', undefined, true),
    arcface: find('arcface', overrides.arcface, !!opts.hjb || (!arcfaceOnnx && !opts.noFaceEmbeddings)),
    dwposeDet: find('dwpose_det', undefined, false),
  };
  if (missing.length) {
    const where = root ? `in ${root}` : '(no --weights folder given)';
    throw new Error(`missing weights ${where}:\n  ${missing.join('\n  ')}\n` +
      'get them with `stable-animator weights download <dir>` and check a folder with `stable-animator weights check <dir>`');
  }
  return {
    poseNet: paths.poseNet!, faceEncoder: paths.faceEncoder!, unet: paths.unet!, unetConfigDir: dirname(paths.unetConfig!),
    imageEncoderDir: dirname(paths.imageEncoder!), vaeDir: dirname(paths.vae!), schedulerConfig: paths.scheduler!,
    arcface: paths.arcface, arcfaceOnnx, dwposeDir: paths.dwposeDet && dirname(paths.dwposeDet),
  };
}

export interface LoadComponentsOptions {
  /** UNet, CLIP, PoseNet and Face Encoder dtype. Default f32. */
  dtype?: DType;
  /** VAE dtype; default f32 (SVD's VAE has force_upcast). */
  vaeDtype?: DType;
  device?: Device;
  /** Load the iResNet (HJB or reference face embedding). */
  arcface?: boolean;
  onStage?: (name: string) => void;
}

export function loadComponents(paths: WeightPaths, opts: LoadComponentsOptions = {}): StableAnimatorComponents {
  const dtype = opts.dtype ?? 'f32';
  const device = opts.device;
  const stage = (name: string) => opts.onStage?.(name);
  const onDevice = <M extends { to(d: Device): M }>(m: M): M => (device && device !== 'cpu' ? m.to(device) : m);
  stage('UNet (unet.pth)');
  const unet = StableAnimatorUNet.fromPretrained(paths.unet, { config: paths.unetConfigDir, dtype, device });
  stage('VAE');
  const vae = AutoencoderKLTemporalDecoder.fromPretrained(paths.vaeDir, { dtype: opts.vaeDtype ?? 'f32', device });
  stage('CLIP image encoder');
  const imageEncoder = CLIPVisionModelWithProjection.fromPretrained(paths.imageEncoderDir, { dtype, device });
  stage('PoseNet');
  const poseNet = onDevice(PoseNet.fromPretrained(paths.poseNet, { dtype }));
  stage('Face Encoder');
  const faceEncoder = onDevice(FusionFaceId.fromPretrained(paths.faceEncoder, { dtype }));
  const scheduler = EulerDiscreteScheduler.fromConfig(JSON.parse(readFileSync(paths.schedulerConfig, 'utf8')) as Record<string, unknown>);
  let faceRecognizer: IResNet | undefined;
  if (opts.arcface) {
    if (!paths.arcface) throw new Error('the ArcFace iResNet (Animation/glintr100_torch.pth) is needed but missing');
    stage('ArcFace iResNet-100');
    faceRecognizer = onDevice(IResNet.fromPretrained(paths.arcface));
  }
  return { unet, vae, imageEncoder, poseNet, faceEncoder, scheduler, faceRecognizer };
}


/** What a weights folder says of itself beyond its files: a miniature's frame size, skeleton style and window (miniature.json). */
export interface WeightsFacts {
  size?: number;
  skeleton: SkeletonStyle;
  /** Frames per window (its training clip length). */
  window?: number;
}

export function readWeightsFacts(dir: string | undefined): WeightsFacts {
  const path = dir === undefined ? undefined : join(dir, MINIATURE_INFO_FILE);
  if (!path || !existsSync(path)) return { skeleton: 'reference' };
  const info = JSON.parse(readFileSync(path, 'utf8')) as { size?: number; skeleton?: SkeletonStyle; frames?: number };
  return { size: info.size, skeleton: info.skeleton ?? 'reference', window: info.frames };
}

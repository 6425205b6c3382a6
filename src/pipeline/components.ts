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
import { describeWeightsRoot, findWeightFile, MINIATURE_INFO_FILE, weightSpec, type WeightsRoot } from '../models/weights-layout.ts';
import type { SkeletonStyle } from '../pose/render.ts';
import { EulerDiscreteScheduler } from '../sampling/euler-discrete.ts';
import type { StableAnimatorComponents } from './animate.ts';
import { placementOf, restingDevice, type ModelName, type PlacementOptions } from './placement.ts';

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

/** A word for the shell: quoted when it holds anything but safe characters. */
const shellWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/**
 * The exact command that fetches layout paths into root (a folder) or into the Hugging Face cache (undefined):
 * each named with --file, or past three the default selection, which holds every file the pipeline needs.
 */
export function downloadCommand(root: WeightsRoot, paths: string[]): string {
  const files = paths.length <= 3 ? paths.map((p) => `--file ${shellWord(p)}`) : [];
  return ['stable-animator weights download', ...(root === undefined ? [] : [shellWord(root)]), ...files].join(' ');
}

/**
 * The files under `root` (undefined: the default location, the Hugging Face cache), with overrides. The
 * iResNet is required for HJB, and for the reference face when there is no ONNX ArcFace unless
 * `noFaceEmbeddings` (a caller that never embeds a face, e.g. training with zero face embeddings). Throws one
 * error listing every missing required file and the command that fetches them.
 */
export function resolveWeightPaths(root: WeightsRoot, overrides: WeightOverrides = {}, opts: { hjb?: boolean; noFaceEmbeddings?: boolean } = {}): WeightPaths {
  const missing: string[] = [];
  const fetch: string[] = [];
  const find = (id: string, override: string | undefined, required: boolean): string | undefined => {
    if (override) return override;
    const spec = weightSpec(id);
    const svdRelative = overrides.svdDir && spec.candidates[0].startsWith('stable-video-diffusion-img2vid-xt/');
    const path = svdRelative
      ? findWeightFile(overrides.svdDir!, { ...spec, candidates: spec.candidates.map((c) => c.slice(c.indexOf('/') + 1)) })
      : findWeightFile(root, spec);
    if (!path && required) {
      missing.push(`${spec.candidates[0]} (${spec.purpose})`);
      if (!svdRelative) fetch.push(spec.candidates[0]);
    }
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
    const svd = missing.length > fetch.length ? `\n(files missing from --svd ${overrides.svdDir} are its own: give a complete SVD-xt folder)` : '';
    throw new Error(`missing weights in ${describeWeightsRoot(root)}:\n  ${missing.join('\n  ')}\n` +
      (fetch.length ? `fetch them with:\n  ${downloadCommand(root, fetch)}` : '') + svd);
  }
  return {
    poseNet: paths.poseNet!, faceEncoder: paths.faceEncoder!, unet: paths.unet!, unetConfigDir: dirname(paths.unetConfig!),
    imageEncoderDir: dirname(paths.imageEncoder!), vaeDir: dirname(paths.vae!), schedulerConfig: paths.scheduler!,
    arcface: paths.arcface, arcfaceOnnx, dwposeDir: paths.dwposeDet && dirname(paths.dwposeDet),
  };
}

export interface LoadComponentsOptions extends PlacementOptions {
  /** UNet, CLIP, PoseNet and Face Encoder dtype. Default f32. */
  dtype?: DType;
  /** VAE dtype; default f32 (SVD's VAE has force_upcast). */
  vaeDtype?: DType;
  /** Load the iResNet (HJB or reference face embedding). */
  arcface?: boolean;
  onStage?: (name: string) => void;
}

/** The models, each loaded onto where it rests (its run device; the CPU with offload), with their placement. */
export function loadComponents(paths: WeightPaths, opts: LoadComponentsOptions = {}): StableAnimatorComponents {
  const dtype = opts.dtype ?? 'f32';
  const placement = placementOf(opts);
  const at = (m: ModelName): Device => restingDevice(placement, m);
  const stage = (name: string) => opts.onStage?.(name);
  const onDevice = <M extends { to(d: Device): M }>(m: M, name: ModelName): M => (at(name) !== 'cpu' ? m.to(at(name)) : m);
  stage('UNet (unet.pth)');
  const unet = StableAnimatorUNet.fromPretrained(paths.unet, { config: paths.unetConfigDir, dtype, device: at('unet') });
  stage('VAE');
  const vae = AutoencoderKLTemporalDecoder.fromPretrained(paths.vaeDir, { dtype: opts.vaeDtype ?? 'f32', device: at('vae') });
  stage('CLIP image encoder');
  const imageEncoder = CLIPVisionModelWithProjection.fromPretrained(paths.imageEncoderDir, { dtype, device: at('imageEncoder') });
  stage('PoseNet');
  const poseNet = onDevice(PoseNet.fromPretrained(paths.poseNet, { dtype }), 'poseNet');
  stage('Face Encoder');
  const faceEncoder = onDevice(FusionFaceId.fromPretrained(paths.faceEncoder, { dtype }), 'faceEncoder');
  const scheduler = EulerDiscreteScheduler.fromConfig(JSON.parse(readFileSync(paths.schedulerConfig, 'utf8')) as Record<string, unknown>);
  let faceRecognizer: IResNet | undefined;
  if (opts.arcface) {
    if (!paths.arcface) throw new Error('the ArcFace iResNet (Animation/glintr100_torch.pth) is needed but missing');
    stage('ArcFace iResNet-100');
    faceRecognizer = onDevice(IResNet.fromPretrained(paths.arcface), 'faceRecognizer');
  }
  return { unet, vae, imageEncoder, poseNet, faceEncoder, scheduler, faceRecognizer, placement };
}


/**
 * The released StableAnimator's training clips: 16 frames spread over 61 consecutive frames (`sample_frame_rate`
 * 4) of videos the paper describes as 30 fps, so 7.5 frames a second (the model is conditioned on fps 7, and the
 * Gradio demo writes 8); at 512x512 and 576x1024 (reference-implementation.md, Training).
 */
export const RELEASED_TRAINING = { fps: 7.5, trainedSizes: [[512, 512], [576, 1024]] as [number, number][] };

/** What a weights folder says of itself beyond its files: a miniature's frame size, skeleton style and window (miniature.json). */
export interface WeightsFacts {
  size?: number;
  skeleton: SkeletonStyle;
  /** Frames per window (its training clip length). */
  window?: number;
  /** The frame rate of its training clips: the rate a driving video is sampled at by default. */
  fps: number;
  /** The sizes [W, H] it was trained at. */
  trainedSizes: [number, number][];
}

export function readWeightsFacts(dir: string | undefined): WeightsFacts {
  const path = dir === undefined ? undefined : join(dir, MINIATURE_INFO_FILE);
  if (!path || !existsSync(path)) return { skeleton: 'reference', ...RELEASED_TRAINING };
  const info = JSON.parse(readFileSync(path, 'utf8')) as { size?: number; skeleton?: SkeletonStyle; frames?: number; fps?: number };
  return {
    size: info.size, skeleton: info.skeleton ?? 'reference', window: info.frames,
    // miniatures from before the rate was recorded trained on 5 fps clips (docs/mini.md)
    fps: info.fps ?? 5, trainedSizes: info.size ? [[info.size, info.size]] : RELEASED_TRAINING.trainedSizes,
  };
}

/** A warning when the working size is not one the weights were trained at; undefined when it is. */
export function untrainedSizeWarning(facts: WeightsFacts, width: number, height: number): string | undefined {
  if (facts.trainedSizes.some(([w, h]) => w === width && h === height)) return undefined;
  const sizes = facts.trainedSizes.map(([w, h]) => `${w}x${h}`).join(' and ');
  return `the working size ${width}x${height} is not one the weights were trained at (${sizes}): expect weaker results`;
}

/**
 * The working size: `asked` (a side alone: the other follows the reference's aspect, in multiples of 64), else the
 * trained size nearest the reference's aspect (portraits: the tallest), so a photo is fitted rather than stretched.
 */
export function workingSize(facts: WeightsFacts, refWidth: number, refHeight: number, asked: { width?: number; height?: number } = {}): [number, number] {
  const round64 = (v: number) => Math.max(64, Math.round(v / 64) * 64);
  if (asked.width !== undefined || asked.height !== undefined) {
    const width = asked.width ?? round64((asked.height! * refWidth) / refHeight);
    return [width, asked.height ?? round64((width * refHeight) / refWidth)];
  }
  const distance = ([w, h]: [number, number]) => Math.abs(Math.log((w / h) / (refWidth / refHeight)));
  const nearer = (a: [number, number], b: [number, number]) => {
    const d = distance(a) - distance(b);
    return Math.abs(d) > 1e-9 ? d : b[1] / b[0] - a[1] / a[0];
  };
  return [...facts.trainedSizes].sort(nearer)[0]!;
}

// The whole miniature StableAnimator++ recipe (issue 8), stage by stage, each resumable and skipped once done:
//   1. data        synthetic figures driven by real motion (src/synth), the reference layout
//   2. vae         temporal VAE on the training clips                        (vae-stage.ts)
//      2b.         its decoder refined with the encoder frozen (latents unchanged)
//   3. encoder     the image encoder in place of CLIP                       (image-encoder-stage.ts)
//   4. animator    UNet + ID-Adapter, PoseNet, Face Encoder from scratch     (animator-stage.ts)
//   5. export      a weights folder in the released layout, which `animate --weights` and the demo load
// The face-ID network (weights/faceid) and the alignment block (weights/align) are trained by their own
// commands and shipped; the recipe reuses them.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as torch from '../torch/index.ts';
import type { RawTensor } from '../torch/index.ts';
import type { SkeletonStyle } from '../pose/render.ts';
import { readSafetensors, writeSafetensors } from '../torch/serialization/index.ts';
import { MINIATURE_INFO_FILE, SVD_DIR } from '../models/weights-layout.ts';
import { SVD_XT_SCHEDULER_CONFIG } from '../sampling/euler-discrete.ts';
import { readSynthDataset, writeSynthDataset } from './synth/dataset.ts';
import { loadFaceIdWeights } from './face-id.ts';
import { clipVisionConfigFromJson } from '../models/svd/clip-vision.ts';
import { readModelConfig } from '../models/svd/pretrained.ts';
import { miniUnetConfig, trainMiniAnimatorPhases } from './animator-stage.ts';
import { MINI_FPS, MINI_FRAMES, MINI_SIZE, MINI_SKELETON } from './configs.ts';
import { trainMiniImageEncoder } from './image-encoder-stage.ts';
import { trainMiniVae } from './vae-stage.ts';
import { miniValidation } from './validation.ts';
import { launch } from '../train/launch.ts';
import { processGroup } from '../train/process-group.ts';
import { DEFAULT_ALIGN_WEIGHTS } from '../align/learned-alignment.ts';
import type { StableAnimatorComponents } from '../pipeline/animate.ts';

export interface MiniRecipeOptions {
  /** Working folder: data/, train-data/, vae/, image_encoder/, animator/. */
  work: string;
  /** The exported weights folder. */
  out: string;
  identities?: number;
  clipsPerIdentity?: number;
  frames?: number;
  seed?: number;
  motionDir?: string;
  faceIdDir?: string;
  steps?: { vae?: number; vaeDecoder?: number; imageEncoder?: number; animatorImage?: number; animator?: number };
  /** Samples (single frames) per step and process of phase 4a. */
  imageBatch?: number;
  /** Data-parallel processes of stage 4 (one libtorch thread each); > 1 needs launchArgs. */
  nproc?: number;
  /** The command line (after the script) that the launched processes run: the same `mini train ...`. */
  launchArgs?: string[];
  /** Held-out validation during stage 4 (every: steps between two; the rest as MiniValidationOptions). */
  validation?: { every: number; cases?: number; frames?: number; steps?: number };
  /** The learned alignment used by validation (default weights/align). */
  alignDir?: string;
  /** Model overrides (tests use smaller ones). */
  vaeConfig?: Record<string, unknown>;
  imageEncoderConfig?: Record<string, unknown>;
  unetConfig?: Record<string, unknown>;
  /** Options of train.json over the animator stage's. */
  train?: Record<string, unknown>;
  log?: (line: string) => void;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export const MINI_RECIPE_DEFAULTS = {
  identities: 200, clipsPerIdentity: 3, frames: 24, seed: 0, steps: { vae: 1500, vaeDecoder: 1000, imageEncoder: 300, animatorImage: 1800, animator: 800 },
  imageBatch: 8, nproc: 2, validateEvery: 400,
};

/** A folder whose path lists name the training clips only (absolute paths), for the trainers. */
function trainView(dataRoot: string, viewRoot: string, clips: readonly string[]): void {
  mkdirSync(viewRoot, { recursive: true });
  writeFileSync(join(viewRoot, 'video_rec_path.txt'), clips.map((c) => `${resolve(dataRoot, c)}\n`).join(''));
  writeFileSync(join(viewRoot, 'video_vec_path.txt'), '');
}

/** The recipe's working folder: one subfolder per stage (the ablations reuse stages 1-3 from it). */
export function miniWorkDirs(work: string) {
  return { data: join(work, 'data'), train: join(work, 'train-data'), vae: join(work, 'vae'), vaeDecoder: join(work, 'vae-decoder'), encoder: join(work, 'image_encoder'), animator: join(work, 'animator') };
}

export async function runMiniRecipe(o: MiniRecipeOptions): Promise<void> {
  const log = o.log ?? console.log;
  const seed = o.seed ?? MINI_RECIPE_DEFAULTS.seed;
  const steps = { ...MINI_RECIPE_DEFAULTS.steps, ...o.steps };
  const dirs = miniWorkDirs(o.work);
  const done = (path: string) => existsSync(path);

  log('stage 1/5: synthetic data');
  await writeSynthDataset({
    root: dirs.data, identities: o.identities ?? MINI_RECIPE_DEFAULTS.identities, clipsPerIdentity: o.clipsPerIdentity ?? MINI_RECIPE_DEFAULTS.clipsPerIdentity,
    frames: o.frames ?? MINI_RECIPE_DEFAULTS.frames, seed, motionDir: o.motionDir, skeleton: MINI_SKELETON,
    onProgress: (p) => o.onProgress?.('data', p.frames, p.total ?? p.frames),
  });
  const data = await readSynthDataset(dirs.data);
  const labels = new Map(data.clips.map((c) => [c.clip, c.path]));
  if (!process.env.RANK) trainView(dirs.data, dirs.train, data.split.clips.train.map((c) => {
    const path = labels.get(c);
    if (!path) throw new Error(`${join(dirs.data, 'split.json')}: training clip "${c}" is not in identities.json`);
    return path;
  }));
  log(`  ${data.split.clips.train.length} training clips; held out: ${data.split.heldOutIdentities.length} identities, ${data.split.heldOutMotions.length} motions`);

  log('stage 2/5: VAE');
  if (!done(join(dirs.vae, 'config.json'))) await trainMiniVae({ data: dirs.train, outDir: dirs.vae, steps: steps.vae, seed, config: o.vaeConfig, log });
  // 2b. More decoder steps at a lower rate, with a term on 8x8 block means: the small decoder washes flat colours
  // out (measured: docs/mini.md). The encoder, hence every latent the UNet trains on, stays as stage 2 made it.
  const vaeDir = steps.vaeDecoder > 0 ? dirs.vaeDecoder : dirs.vae;
  if (steps.vaeDecoder > 0 && !done(join(dirs.vaeDecoder, 'config.json'))) {
    log('  2b: the VAE decoder, encoder frozen');
    await trainMiniVae({ data: dirs.train, outDir: dirs.vaeDecoder, steps: steps.vaeDecoder, seed: seed + 1, refineDecoderOf: dirs.vae, lr: 2e-4, colourWeight: 1, log });
  }
  log('stage 3/5: image encoder');
  if (!done(join(dirs.encoder, 'config.json'))) {
    await trainMiniImageEncoder({ data: dirs.train, outDir: dirs.encoder, steps: steps.imageEncoder, seed, config: o.imageEncoderConfig, log });
  }
  log('stage 4/5: UNet, PoseNet and Face Encoder (4a: single frames, 4b: clips)');
  const faceIdDir = o.faceIdDir ?? 'weights/faceid';
  const imagePhase = join(o.work, 'animator-image');
  const finalDir = join(dirs.animator, 'final');
  if (!done(join(finalDir, 'unet.safetensors'))) {
    const nproc = o.nproc ?? 1;
    if (nproc > 1 && !process.env.RANK) {
      // the ranks run this same command; they find stages 1-3 done and join the process group
      if (!o.launchArgs) throw new Error('runMiniRecipe: nproc > 1 needs launchArgs (the command line the ranks run)');
      const code = await launch({ nproc, args: o.launchArgs });
      if (code !== 0) throw new Error(`stage 4: a training process failed (exit code ${code}); re-run the same command to resume`);
    } else {
      const parallel = await processGroup('cpu');
      try {
        const common = {
          data: dirs.train, vaeDir: dirs.vae, imageEncoderDir: dirs.encoder, faceId: loadFaceIdWeights(faceIdDir), seed, unetConfig: o.unetConfig,
          parallel, log, validate: o.validation && ((components: StableAnimatorComponents) => miniValidation(components, {
            seed, identities: o.identities ?? MINI_RECIPE_DEFAULTS.identities, heldOutIdentities: data.split.heldOutIdentities,
            heldOutMotions: data.split.heldOutMotions, motionDir: o.motionDir ?? '../shared/data/motion', size: MINI_SIZE, skeleton: MINI_SKELETON,
            window: (o.train?.numFrames as number | undefined) ?? MINI_FRAMES, alignWeights: o.alignDir ?? DEFAULT_ALIGN_WEIGHTS, ...o.validation,
          })),
        };
        await trainMiniAnimatorPhases({
          ...common, imageOutDir: imagePhase, outDir: dirs.animator, imageSteps: steps.animatorImage, steps: steps.animator,
          imageBatch: o.imageBatch ?? MINI_RECIPE_DEFAULTS.imageBatch, train: { validateEvery: o.validation?.every ?? 0, ...o.train },
        });
      } finally {
        if (parallel) (await import('../torch/distributed.ts')).destroyProcessGroup();
      }
      if (parallel) return; // rank 0 of the launcher's children: the launching process exports
    }
  }
  log('stage 5/5: export');
  const tokens = clipVisionConfigFromJson(readModelConfig(dirs.encoder, 'CLIPVisionModelWithProjection')).projection_dim;
  const info: MiniatureInfo = {
    seed, identities: o.identities ?? MINI_RECIPE_DEFAULTS.identities, heldOutIdentities: data.split.heldOutIdentities,
    heldOutMotions: data.split.heldOutMotions, size: MINI_SIZE, frames: MINI_FRAMES, fps: MINI_FPS, skeleton: MINI_SKELETON, steps,
  };
  exportMiniWeights({ out: o.out, vaeDir, imageEncoderDir: dirs.encoder, animatorFinal: finalDir, faceIdDir, unetConfig: miniUnetConfig(tokens, o.unetConfig), info });
  log(`wrote ${o.out}`);
}

/** What the demo and the ablations need to know of the data the miniature was trained on. */
export interface MiniatureInfo {
  /** The synthetic dataset's seed and identity count (identities are a function of both: runIdentities). */
  seed: number;
  identities: number;
  heldOutIdentities: string[];
  heldOutMotions: string[];
  size: number;
  /** Frames per training clip: the window length at inference. */
  frames: number;
  /** Frames per second of the training clips: the rate `animate` samples driving videos at by default. */
  fps?: number;
  /** How skeletons are drawn for it (src/pose/render.ts); absent in folders from before: 'reference'. */
  skeleton?: SkeletonStyle;
  steps: { vae: number; vaeDecoder?: number; imageEncoder: number; animatorImage?: number; animator: number };
}


export function readMiniatureInfo(weights: string): MiniatureInfo {
  const path = join(weights, MINIATURE_INFO_FILE);
  if (!existsSync(path)) throw new Error(`${path}: not found; expected a miniature exported by 'stable-animator mini train' (weights/mini)`);
  let info: MiniatureInfo;
  try {
    info = JSON.parse(readFileSync(path, 'utf8')) as MiniatureInfo;
  } catch (e) {
    throw new Error(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const keys = ['seed', 'identities', 'heldOutIdentities', 'heldOutMotions', 'size', 'frames'] as const;
  const missing = keys.filter((k) => info[k] === undefined);
  if (missing.length) throw new Error(`${path}: expected the keys ${keys.join(', ')}; missing ${missing.join(', ')}`);
  return info;
}

/**
 * The released layout (models/weights-layout.ts) with the miniature's files: Animation/{unet,pose_net,
 * face_encoder}.safetensors (the UNet stored in bf16 to halve its size; it loads into the requested dtype),
 * Animation/face_id.safetensors, and stable-video-diffusion-img2vid-xt/{unet/config.json, vae/, image_encoder/,
 * scheduler/}. Written into a temporary folder (so files are copied plainly), then renamed over `out`.
 */
export function exportMiniWeights(o: {
  out: string; vaeDir: string; imageEncoderDir: string; animatorFinal: string; faceIdDir: string; unetConfig: Record<string, unknown>; info: MiniatureInfo;
}): void {
  const tmp = `${o.out}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  const sub = (...p: string[]) => {
    const dir = join(tmp, ...p);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const anim = sub('Animation');
  for (const f of ['pose_net.safetensors', 'face_encoder.safetensors']) copyFileSync(join(o.animatorFinal, f), join(anim, f));
  const unet = new Map<string, RawTensor>();
  for (const [k, t] of readSafetensors(join(o.animatorFinal, 'unet.safetensors'))) unet.set(k, t.dtype === 'f32' ? torch.scope(() => torch.fromRaw(t).to('bf16').raw()) : t);
  writeSafetensors(join(anim, 'unet.safetensors'), unet, { format: 'pt' });
  copyFileSync(join(o.faceIdDir, 'model.safetensors'), join(anim, 'face_id.safetensors'));
  writeFileSync(join(sub(SVD_DIR, 'unet'), 'config.json'), `${JSON.stringify({ _class_name: 'UNetSpatioTemporalConditionModel', ...o.unetConfig }, null, 2)}\n`);
  writeFileSync(join(sub(SVD_DIR, 'scheduler'), 'scheduler_config.json'), `${JSON.stringify({ _class_name: 'EulerDiscreteScheduler', ...SVD_XT_SCHEDULER_CONFIG }, null, 2)}\n`);
  for (const f of ['config.json', 'diffusion_pytorch_model.safetensors']) copyFileSync(join(o.vaeDir, f), join(sub(SVD_DIR, 'vae'), f));
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(o.imageEncoderDir, f), join(sub(SVD_DIR, 'image_encoder'), f));
  writeFileSync(join(tmp, MINIATURE_INFO_FILE), `${JSON.stringify(o.info, null, 2)}\n`);
  const st = o.info.steps;
  writeFileSync(join(tmp, 'README.md'), `# The miniature StableAnimator++\n\nWritten by \`stable-animator mini train\` (${st.vae} VAE steps and ${st.vaeDecoder ?? 0
  } more for its decoder, ${st.imageEncoder} image-encoder, ${st.animatorImage ?? 0} single-frame and ${st.animator
  } clip animator steps). The recipe, its measured times and what the weights can and cannot do: docs/mini.md.\n`);
  rmSync(o.out, { recursive: true, force: true });
  renameSync(tmp, o.out);
}

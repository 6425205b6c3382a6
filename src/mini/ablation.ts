// The paper's ablations (Table II) in miniature: four animators trained from scratch at one step budget on the
// miniature's data, VAE and image encoder (full; w/o face masks in the loss; w/o Face Encoder refinement; w/o
// distribution alignment in the ID-Adapter), and seven rows evaluated on held-out identities x held-out
// motions under the MisAlign perturbation (the three inference-time rows reuse the full model: w/o pose
// alignment, SVD-only alignment, w/o HJB). Every trained variant and every (row, case) score is kept on disk,
// so a killed run resumes where it stopped (eval/<row>/<case>/ holds the output frames and metrics.json).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { listFrameFiles } from '../io/frame-folder.ts';
import { readImage, writeImage, type Image } from '../io/image.ts';
import { sideBySide, stackRows } from '../io/side-by-side.ts';
import type { AlignMethod } from '../align/align-frames.ts';
import { LearnedAlignment } from '../align/learned-alignment.ts';
import { loadWeights } from '../models/checkpoint.ts';
import type { StableAnimatorComponents } from '../pipeline/animate.ts';
import { writeFrames } from '../pipeline/outputs.ts';
import { runIdentities } from './synth/dataset.ts';
import { loadMotionFile } from './synth/motion.ts';
import { loadFaceIdWeights } from './face-id.ts';
import { miniComponents, trainMiniAnimatorPhases, type MiniVariant } from './animator-stage.ts';
import { MINI_RECIPE_DEFAULTS, miniWorkDirs, type MiniatureInfo } from './recipe.ts';
import { animateCase, meanCaseMetrics, type CaseMetrics } from './animate-case.ts';
import { heldOutCase, type HeldOutCase } from './held-out-case.ts';
import { DEMO_DEFAULTS, demoHjb } from './demo-settings.ts';

export interface TrainedVariant {
  model?: MiniVariant;
  /** train.json fields over the recipe's. */
  train?: Record<string, unknown>;
}

export const TRAINED_VARIANTS = {
  full: {},
  'no-face-mask': { train: { faceMaskLoss: false } },
  'no-face-encoder': { model: { refineFaceTokens: false } },
  'no-dist-align': { model: { alignDistribution: false } },
} satisfies Record<string, TrainedVariant>;

export type TrainedVariantName = keyof typeof TRAINED_VARIANTS;

export interface AblationRow {
  name: string;
  label: string;
  model: TrainedVariantName;
  align: AlignMethod;
  hjb: boolean;
}

export const ABLATION_ROWS: readonly AblationRow[] = [
  { name: 'full', label: 'full StableAnimator++', model: 'full', align: 'learned', hjb: true },
  { name: 'no-align', label: 'w/o pose alignment', model: 'full', align: 'none', hjb: true },
  { name: 'svd-align', label: 'SVD-only alignment (w/o prediction)', model: 'full', align: 'svd', hjb: true },
  { name: 'no-face-mask', label: 'w/o face masks in the loss', model: 'no-face-mask', align: 'learned', hjb: true },
  { name: 'no-face-encoder', label: 'w/o Face Encoder', model: 'no-face-encoder', align: 'learned', hjb: true },
  { name: 'no-dist-align', label: 'w/o distribution alignment (plain addition)', model: 'no-dist-align', align: 'learned', hjb: true },
  { name: 'no-hjb', label: 'w/o HJB', model: 'full', align: 'learned', hjb: false },
];

export interface AblationOptions {
  /** The miniature recipe's working folder (train-data/, vae/, image_encoder/). */
  miniWork: string;
  info: MiniatureInfo;
  /** This run's folder: <variant>/ (trainer outputs), eval/<row>/<case>.json. */
  work: string;
  /** Steps of phase 4b (clips) and of phase 4a (single frames, 0: none) of each variant, as the recipe. */
  steps: number;
  imageSteps?: number;
  imageBatch?: number;
  /** Held-out cases (identity i with motion i mod motions), frames each. */
  cases: number;
  frames: number;
  inferenceSteps: number;
  guidance: number;
  motionDir: string;
  faceIdDir: string;
  alignDir: string;
  /** Train only these variants (default all). */
  variants?: readonly TrainedVariantName[];
  /** The shipped miniature's UNet config (weights/mini), so the variants have its size. */
  unetConfig: Record<string, unknown>;
  /** Evaluate only these rows (default all), e.g. the full model's rows while the other variants still train. */
  rows?: readonly string[];
  /** train.json fields over every variant's (tests: toy clip lengths). */
  train?: Record<string, unknown>;
  log: (line: string) => void;
}

export interface AblationResult {
  rows: { row: AblationRow; mean: CaseMetrics; perCase: CaseMetrics[] }[];
  cases: string[];
  /** Per row, the outputs of the first case. */
  samples: Map<string, Image[]>;
  firstCase: HeldOutCase;
}

const finalDir = (o: AblationOptions, v: TrainedVariantName) => join(o.work, v, 'final');
/** The VAE the recipe's stage 4 and export use: stage 2b's refined decoder where it was run (the encoder, hence
 * every latent, is stage 2's either way), so the variants decode as the shipped miniature does. */
export function ablationVaeDir(o: Pick<AblationOptions, 'miniWork'>): string {
  const dirs = miniWorkDirs(o.miniWork);
  return existsSync(join(dirs.vaeDecoder, 'config.json')) ? dirs.vaeDecoder : dirs.vae;
}

export async function trainVariants(o: AblationOptions): Promise<void> {
  const faceId = loadFaceIdWeights(o.faceIdDir);
  for (const name of o.variants ?? (Object.keys(TRAINED_VARIANTS) as TrainedVariantName[])) {
    if (existsSync(join(finalDir(o, name), 'unet.safetensors'))) continue;
    const v: TrainedVariant = TRAINED_VARIANTS[name];
    o.log(`training ${name} (${o.imageSteps ?? 0} single-frame steps, then ${o.steps} clip steps)`);
    await trainMiniAnimatorPhases({
      data: miniWorkDirs(o.miniWork).train, outDir: join(o.work, name), imageOutDir: join(o.work, `${name}-image`), imageSteps: o.imageSteps ?? 0,
      imageBatch: o.imageBatch ?? MINI_RECIPE_DEFAULTS.imageBatch, vaeDir: ablationVaeDir(o), imageEncoderDir: miniWorkDirs(o.miniWork).encoder,
      faceId, steps: o.steps, seed: o.info.seed, unetConfig: o.unetConfig, variant: v.model, train: { ...o.train, ...v.train }, log: o.log,
    });
  }
}

function loadVariant(o: AblationOptions, name: TrainedVariantName, faceRecognizer: StableAnimatorComponents['faceRecognizer']): StableAnimatorComponents {
  const dir = finalDir(o, name);
  if (!existsSync(join(dir, 'unet.safetensors'))) throw new Error(`${dir}: variant ${name} is not trained: expected unet.safetensors there (train it: 'stable-animator ablate --train-only --variants ${name}')`);
  const c = miniComponents({
    vaeDir: ablationVaeDir(o), imageEncoderDir: miniWorkDirs(o.miniWork).encoder, faceIdDim: faceRecognizer!.config.num_features,
    seed: o.info.seed, unetConfig: o.unetConfig, variant: (TRAINED_VARIANTS[name] as TrainedVariant).model,
  });
  loadWeights(c.unet, join(dir, 'unet.safetensors'));
  loadWeights(c.poseNet, join(dir, 'pose_net.safetensors'));
  loadWeights(c.faceEncoder, join(dir, 'face_encoder.safetensors'));
  for (const m of [c.unet, c.poseNet, c.faceEncoder]) m.eval();
  return { ...c, faceRecognizer };
}

/** The held-out cases: identity i of the held-out identities with held-out motion i mod their count. */
export async function ablationCases(o: AblationOptions): Promise<HeldOutCase[]> {
  const identities = runIdentities(o.info.seed, o.info.identities);
  const out: HeldOutCase[] = [];
  for (let i = 0; i < o.cases; i++) {
    const idName = o.info.heldOutIdentities[i % o.info.heldOutIdentities.length]!;
    const motionName = o.info.heldOutMotions[i % o.info.heldOutMotions.length]!;
    const file = [join(o.motionDir, 'bvh', `${motionName}.bvh`), join(o.motionDir, 'dwpose', `${motionName}.json`)].find(existsSync);
    if (!file) throw new Error(`${o.motionDir}: held-out motion ${motionName} not found (expected bvh/${motionName}.bvh or dwpose/${motionName}.json)`);
    const motion = await loadMotionFile(file);
    out.push(heldOutCase({ identity: identities.find((d) => d.id === idName)!, motion, frames: o.frames, size: o.info.size, seed: 1000 + i }));
  }
  return out;
}


export async function evaluateAblation(o: AblationOptions): Promise<AblationResult> {
  const cases = await ablationCases(o);
  const recognizer = loadFaceIdWeights(o.faceIdDir);
  const alignModel = LearnedAlignment.fromPretrained(o.alignDir);
  const loaded = new Map<TrainedVariantName, StableAnimatorComponents>();
  const rows: AblationResult['rows'] = [];
  const samples = new Map<string, Image[]>();
  for (const row of ABLATION_ROWS.filter((r) => !o.rows || o.rows.includes(r.name))) {
    const perCase: CaseMetrics[] = [];
    for (const [k, c] of cases.entries()) {
      const dir = join(o.work, 'eval', row.name, c.name);
      const done = join(dir, 'metrics.json');
      if (!existsSync(done)) {
        if (!loaded.has(row.model)) loaded.set(row.model, loadVariant(o, row.model, recognizer));
        const r = await animateCase(c, loaded.get(row.model)!, {
          align: row.align, alignModel, hjb: row.hjb ? demoHjb(o.inferenceSteps) : undefined, steps: o.inferenceSteps, guidance: o.guidance,
          seed: k, tileSize: o.info.frames, tileOverlap: DEMO_DEFAULTS.tileOverlap, skeleton: o.info.skeleton,
        });
        await writeFrames(dir, r.output);
        await writeFileAtomic(done, `${JSON.stringify(r.metrics)}\n`);
        const m = r.metrics;
        o.log(`${row.name} ${c.name}: L1 ${m.l1.toFixed(4)} PSNR ${m.psnr.toFixed(2)} SSIM ${m.ssim.toFixed(3)} CSIM ${m.csim.toFixed(3)} Dis ${m.dis.toFixed(4)} (${r.seconds.toFixed(0)} s)`);
      }
      perCase.push(JSON.parse(readFileSync(done, 'utf8')) as CaseMetrics);
      if (k === 0) samples.set(row.name, await Promise.all((await listFrameFiles(dir)).map((f) => readImage(f, { channels: 3 }))));
    }
    rows.push({ row, perCase, mean: meanCaseMetrics(perCase) });
  }
  return { rows, cases: cases.map((c) => c.name), samples, firstCase: cases[0]! };
}

/** Columns: the reference, the ground truth, each row's output (first case); lines: a few of its frames. */
export async function writeComparisonSheet(path: string, r: AblationResult, framesShown = 4): Promise<void> {
  const c = r.firstCase;
  const pick = <T>(xs: readonly T[]) => {
    const every = Math.max(1, Math.floor(xs.length / framesShown));
    return xs.filter((_, i) => i % every === 0).slice(0, framesShown);
  };
  const panels = [
    { label: 'reference', frames: [c.reference] },
    { label: 'truth', frames: pick(c.truth) },
    ...r.rows.flatMap(({ row }) => (r.samples.has(row.name) ? [{ label: row.name, frames: pick(r.samples.get(row.name)!) }] : [])),
  ];
  await writeImage(path, stackRows(sideBySide(panels, { height: 128, labelScale: 1 })));
}

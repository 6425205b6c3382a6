// StableAnimator training (paper Sec. III-D, eq. 25; the reference's `train.py`) on the one training loop
// (nn/optim/training-loop.ts: accumulation, the process group's all-reduce, clipping, AdamW, EMA, exact resume
// from numbered checkpoints). What is the animator's own:
//
//   - the data: the step's clips from the prefetcher (loaded while the previous step ran), sharded over ranks;
//   - the loss of a micro-batch: eq. 25 with the face-mask term (gradient checkpointing inside the UNet);
//   - rank 0: train.jsonl (one record per step), loss.png, validation (val.png), the exported final weights.
//
// Exact resume: the batch, the frames, σ, dropout and every noise tensor of step k are functions of
// (seed, k, sample); the checkpoint also holds the clips found bad so far.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import { writeSafetensors } from '../../torch/serialization/index.ts';
import { PALETTE, plotLines, savePlot } from '../../io/plot.ts';
import { stackRows } from '../../io/side-by-side.ts';
import type { StableAnimatorComponents } from '../../pipeline/animate.ts';
import { smooth } from '../../util/loss-curve.ts';
import { ClipLoader, type LoadedSample } from './clip-loader.ts';
import { DataOrder, shardSlots } from './clip-sampler.ts';
import { indexDataset, type DatasetIndex } from './dataset.ts';
import { batchTensors, denoisingLoss, drawSample, type LossConfig } from './denoising-loss.ts';
import { REFERENCE_SIGMA_SAMPLING, type SigmaSampling } from './edm.ts';
import { Prefetcher } from './prefetch.ts';
import { runTrainingLoop, type DataParallel, type StepReport } from '../../nn/optim/training-loop.ts';
import type { TrainConfig } from './train-config.ts';
import { selectTrainable } from './trainable.ts';
import { validateAnimation, type LargestFaceEmbedding } from './validation.ts';

export type { DataParallel };
export type TrainProgress = StepReport;

/**
 * A validation of the caller's (rank 0, every config.validateEvery steps) in place of the default one (the
 * validation clip's video and CSIM): named scores, logged in train.jsonl, and the panels of val.png.
 */
export type ValidationHook = (step: number) => Promise<ValidationScores>;

export interface ValidationScores {
  scores: Record<string, number>;
  /** One plot each in val.png (stacked): the keys of `scores` drawn as lines against the step. */
  panels: { title: string; yLabel: string; keys: string[] }[];
}

export interface TrainAnimatorOptions {
  config: TrainConfig;
  components: StableAnimatorComponents;
  /** An already indexed dataset (default: indexed from config.data). */
  index?: DatasetIndex;
  /**
   * The raw ArcFace embedding of an image's largest face: the reference frames' embeddings when
   * config.faceEmbeddings is 'arcface' (required then), and validation CSIM (skipped without it, and the log
   * says so).
   */
  faceEmbedding?: LargestFaceEmbedding;
  parallel?: DataParallel;
  validate?: ValidationHook;
  /** Stop after this step as if killed (after its checkpoint, if one is due); for tests. */
  stopAfter?: number;
  log?: (line: string) => void;
  onProgress?: (p: TrainProgress) => void;
}

export interface TrainAnimatorResult {
  /** The step training stopped at (= config.steps when finished). */
  step: number;
  finished: boolean;
  /** The run's first step (> 0 after a resume). */
  startStep: number;
  /** Mean loss of each step run in this call. */
  losses: number[];
  params: [string, Tensor][];
  ema?: nn.EMA;
  badClips: Record<string, string>;
  seconds: number;
}

interface LogRecord {
  type: 'train' | 'val';
  step: number;
  [k: string]: unknown;
}

export const LOG_FILE = 'train.jsonl';

function sigmaSampling(c: TrainConfig): SigmaSampling {
  return c.sigmaSampling === 'lognormal' ? { kind: 'lognormal', pMean: c.pMean, pStd: c.pStd } : REFERENCE_SIGMA_SAMPLING;
}

/** The settings that change what a step computes: a resumed run must match them. */
function determinismSettings(c: TrainConfig, worldSize: number): Record<string, unknown> {
  const { seed, numFrames, frameStride, buckets, batchSize, gradientAccumulation, lr, lrSchedule, warmupSteps, minLr, adamBeta1, adamBeta2,
    adamEps, weightDecay, maxGradNorm, mixedPrecision, emaDecay, trainable, conditioningDropout, noiseAugStrength, fps, motionBucketId,
    sigmaSampling: ss, pMean, pStd, vaeEncodeChunk, faceEmbeddings, faceMaskLoss, steps } = c;
  return { seed, numFrames, frameStride, buckets, batchSize, gradientAccumulation, globalBatch: batchSize * gradientAccumulation * worldSize,
    lr, lrSchedule, warmupSteps, minLr, adamBeta1, adamBeta2, adamEps, weightDecay, maxGradNorm, mixedPrecision, emaDecay, trainable,
    conditioningDropout, noiseAugStrength, fps, motionBucketId, sigmaSampling: ss, pMean, pStd, vaeEncodeChunk, faceEmbeddings, faceMaskLoss, steps };
}

function readLog(path: string, upTo: number): LogRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LogRecord).filter((r) => r.step <= upTo);
}

/** val.png: each panel's scores against the step (the validation records that have them). */
async function writeValidationPlot(path: string, records: readonly LogRecord[], panels: ValidationScores['panels']): Promise<void> {
  const images = panels.map((panel) => plotLines(panel.keys.map((key, i) => {
    const points = records.filter((r) => r.type === 'val' && typeof r[key] === 'number' && Number.isFinite(r[key]));
    return { label: key, x: points.map((r) => r.step), y: points.map((r) => r[key] as number), color: PALETTE[i % PALETTE.length]! };
  }).filter((line) => line.x.length > 0), { title: panel.title, xLabel: 'step', yLabel: panel.yLabel }));
  if (images.length) await savePlot(path, stackRows(images));
}

async function writeLog(dir: string, records: readonly LogRecord[]): Promise<void> {
  await writeFileAtomic(join(dir, LOG_FILE), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const train = records.filter((r) => r.type === 'train');
  if (train.length === 0) return;
  const x = train.map((r) => r.step);
  const y = train.map((r) => r.loss as number);
  await savePlot(join(dir, 'loss.png'), plotLines([
    { label: 'loss', x, y, color: [170, 200, 230] },
    { label: 'loss (mean of 25)', x, y: smooth(y, 25), color: [0, 114, 178] },
  ], { title: 'StableAnimator training (eq. 25)', xLabel: 'step', yLabel: 'loss', logY: true }));
}

function mixedPrecisionDtype(c: TrainConfig): LossConfig['autocast'] {
  return c.mixedPrecision === 'bf16' ? 'bf16' : c.mixedPrecision === 'f16' ? 'f16' : undefined;
}

export async function trainAnimator(options: TrainAnimatorOptions): Promise<TrainAnimatorResult> {
  const started = performance.now();
  const c = options.config;
  const rank = options.parallel?.rank ?? 0;
  const world = options.parallel?.worldSize ?? 1;
  const main = rank === 0;
  const log = (line: string) => { if (main) (options.log ?? console.log)(line); };
  const models = options.components;
  const device = models.unet.parameters()[0]!.device;
  if (c.mixedPrecision === 'f16' && !device.startsWith('cuda')) throw new Error(`mixedPrecision "f16" needs a CUDA device (found ${device}); use "bf16" on CPU`);
  if (c.mixedPrecision === 'f16') log('note: f16 autocast runs without a loss scaler; prefer bf16 where the GPU has it');

  if (c.faceEmbeddings === 'arcface' && !options.faceEmbedding) {
    throw new Error('faceEmbeddings "arcface" needs a face embedder (config arcfaceOnnx or arcface weights), found none; set faceEmbeddings "zeros" to train without');
  }
  const referenceEmbedding = c.faceEmbeddings === 'arcface' ? options.faceEmbedding : undefined;

  // data
  const index = options.index ?? await indexDataset(c.data, { buckets: c.buckets, minFrames: c.numFrames + 1 });
  for (const s of index.skipped) log(`dataset: skipping ${s.path}: ${s.reason}`);
  if (index.entries.length === 0) throw new Error(`dataset ${c.data}: no usable clip (${index.skipped.length} skipped)`);
  log(`dataset: ${index.entries.length} clips (${index.buckets.map((b) => `${b.name} ${index.entries.filter((e) => e.bucket === b.name).length}`).join(', ')}), ${index.skipped.length} skipped`);
  const order = new DataOrder(index.entries, c.seed, c.batchSize * c.gradientAccumulation * world);
  const loader = new ClipLoader(index, order, {
    numFrames: c.numFrames, stride: c.frameStride, seed: c.seed, faceEmbedding: referenceEmbedding,
    onSkip: (clip, reason, total) => log(`dataset: skipping ${clip}: ${reason} (${total} clips skipped so far)`),
  });

  // what trains
  const params = selectTrainable(models, c.trainable);
  const tensors = params.map(([, p]) => p);
  models.unet.enableGradientCheckpointing(c.gradientCheckpointing);
  for (const m of [models.unet, models.poseNet, models.faceEncoder]) m.train();
  for (const m of [models.vae, models.imageEncoder]) m.eval();
  const restoreTraining = () => {
    selectTrainable(models, c.trainable);
    for (const m of [models.unet, models.poseNet, models.faceEncoder]) m.train();
  };
  const opt = new nn.AdamW(tensors, { lr: c.lr, betas: [c.adamBeta1, c.adamBeta2], eps: c.adamEps, weightDecay: c.weightDecay });
  const schedule = c.lrSchedule === 'cosine'
    ? nn.cosineWithWarmup(c.lr, c.steps, { warmupSteps: c.warmupSteps, minLr: c.minLr })
    : nn.constantWithWarmup(c.lr, c.warmupSteps);
  const ema = c.emaDecay > 0 ? new nn.EMA(params, c.emaDecay) : undefined;
  const numel = tensors.reduce((n, p) => n + p.numel, 0);
  log(`trainable: ${numel.toLocaleString('en')} parameters in ${params.length} tensors (${JSON.stringify(c.trainable)}); ` +
    `global batch ${c.batchSize} x ${c.gradientAccumulation} accumulation x ${world} processes`);

  const settings = determinismSettings(c, world);
  const records: LogRecord[] = [];
  const lossConfig: LossConfig = {
    conditioningDropout: c.conditioningDropout, noiseAugStrength: c.noiseAugStrength, fps: c.fps, motionBucketId: c.motionBucketId,
    sigma: sigmaSampling(c), autocast: mixedPrecisionDtype(c), vaeEncodeChunk: c.vaeEncodeChunk, faceMaskLoss: c.faceMaskLoss,
  };
  const idDim = models.faceEncoder.config.id_embeddings_dim;
  // one entry per micro-batch: this rank's samples
  const loadStep = (k: number): Promise<LoadedSample[][]> => {
    const batch = order.batch(k);
    return Promise.all(Array.from({ length: c.gradientAccumulation }, (_, m) =>
      Promise.all(shardSlots(batch, m, c.batchSize, rank, world).map((ref) => loader.load(k, ref)))));
  };
  let prefetch: Prefetcher<LoadedSample[][]> | undefined;

  const validationClip = c.validationClip ? index.entries.findIndex((e) => e.dir === c.validationClip) : 0;
  if (validationClip < 0) throw new Error(`validationClip ${c.validationClip}: not among the dataset's usable clips`);
  if (main && c.validateEvery > 0 && !options.faceEmbedding) log('validation: no face embedder (arcfaceOnnx or arcface weights): CSIM is skipped, only the video is written');
  const validate = async (at: number) => {
    const valLoader = new ClipLoader(index, order, { numFrames: c.validationFrames, stride: c.frameStride, seed: c.seed, faceEmbedding: referenceEmbedding });
    const sample = await valLoader.load(0x7fffffff, { entry: validationClip, slot: 0 });
    const video = join(c.output, 'validation', `step-${at}.mp4`);
    mkdirSync(join(c.output, 'validation'), { recursive: true });
    const r = await validateAnimation(models, sample, video, {
      steps: c.validationSteps, guidance: c.validationGuidance, seed: c.seed, fps: c.fps, noiseAugStrength: c.noiseAugStrength, faceEmbedding: options.faceEmbedding,
    }, restoreTraining);
    records.push({ type: 'val', step: at, video: r.video, csim: r.csim ?? null, csim_skipped: r.csimSkipped ?? null, frames_with_face: r.framesWithFace, seconds: r.seconds });
    log(`step ${at}  validation ${r.video}  CSIM ${r.csim === undefined ? `skipped (${r.csimSkipped})` : r.csim.toFixed(4)}  (${r.seconds.toFixed(1)} s)`);
  };

  let panels: ValidationScores['panels'] = [];
  const validateWithHook = async (at: number, hook: ValidationHook) => {
    const started = performance.now();
    // validated on the weights that get exported: the EMA's, when there is one
    const saved = ema ? torch.noGrad(() => tensors.map((p) => p.detach().clone())) : [];
    ema?.copyTo();
    let result: ValidationScores;
    try {
      result = await hook(at);
    } finally {
      torch.noGrad(() => saved.forEach((t, i) => { tensors[i]!.copy_(t); t.dispose(); }));
      restoreTraining();
    }
    panels = result.panels;
    const seconds = (performance.now() - started) / 1000;
    records.push({ type: 'val', step: at, ...result.scores, seconds });
    log(`step ${at}  validation  ${Object.entries(result.scores).map(([k, v]) => `${k} ${v.toFixed(3)}`).join('  ')}  (${seconds.toFixed(1)} s)`);
    await writeValidationPlot(join(c.output, 'val.png'), records, panels);
  };

  // the step being computed: its micro-batches and σs (for the log record)
  let micro: LoadedSample[][] = [];
  let sigmas: number[] = [];
  const loop = await runTrainingLoop({
    name: 'animator', outDir: c.output, weights: params, params: tensors, optimizer: opt, lr: schedule, steps: c.steps, settings,
    accumulation: c.gradientAccumulation, parallel: options.parallel, ema, maxGradNorm: c.maxGradNorm,
    checkpointEvery: c.checkpointEvery, keepCheckpoints: c.keepCheckpoints, logEvery: c.logEvery, stopAfter: options.stopAfter, plot: false, log,
    extraState: () => ({ badClips: Object.fromEntries(loader.bad) }),
    onResume: (step, extra) => {
      for (const [clip, reason] of Object.entries((extra.badClips ?? {}) as Record<string, string>)) loader.bad.set(clip, reason);
      if (main) records.push(...readLog(join(c.output, LOG_FILE), step));
    },
    lossAt: async (step, m) => {
      if (m === 0) {
        prefetch ??= new Prefetcher(loadStep, step, c.prefetch, c.steps);
        micro = await prefetch.next();
        sigmas = [];
      }
      const draws = shardSlots(order.batch(step), m, c.batchSize, rank, world).map((ref) => drawSample(c.seed, step, ref.slot, lossConfig.sigma));
      sigmas.push(...draws.map((d) => d.sigma));
      const loss = torch.scope(() => {
        const l = denoisingLoss(models, batchTensors(micro[m]!, idDim, device), draws, lossConfig);
        l.div(c.gradientAccumulation).backward();
        return l.item();
      });
      if (!Number.isFinite(loss)) throw new Error(`training: the loss became ${loss} at step ${step} (clips ${micro.flat().map((s) => s.clip).join(', ')})`);
      return loss;
    },
    afterStep: async (r) => {
      records.push({ type: 'train', step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, sigma: sigmas, bucket: order.batch(r.step - 1).bucket,
        seconds: r.seconds, skipped_clips: loader.bad.size });
      if (r.step % c.logEvery === 0 || r.step === c.steps) await writeLog(c.output, records);
      if (c.validateEvery > 0 && r.step % c.validateEvery === 0) await (options.validate ? validateWithHook(r.step, options.validate) : validate(r.step));
      if (r.step % c.checkpointEvery === 0 || r.step === c.steps) await writeLog(c.output, records);
    },
    onProgress: options.onProgress,
  });
  const stopped = !loop.finished;
  if (!stopped && main && c.exportWeights) exportWeights(join(c.output, 'final'), models, ema);
  if (main) log(stopped ? `stopped at step ${loop.step}` : `finished ${loop.step} steps; weights in ${join(c.output, 'final')}`);
  return {
    step: loop.step, finished: loop.finished, startStep: loop.resumedFrom, losses: loop.losses.slice(loop.resumedFrom), params, ema,
    badClips: Object.fromEntries(loader.bad), seconds: (performance.now() - started) / 1000,
  };
}

/**
 * final/pose_net.safetensors, face_encoder.safetensors, unet.safetensors: full state dicts with the released
 * files' keys (loadable by `animate --pose-net/--face-encoder/--unet`), the trained weights replaced by their
 * EMA when EMA is on.
 */
function exportWeights(dir: string, models: StableAnimatorComponents, ema?: nn.EMA): void {
  mkdirSync(dir, { recursive: true });
  const averaged = new Map(ema ? [...ema.shadow] : []);
  const files = [['pose_net.', models.poseNet, 'pose_net.safetensors'], ['face_encoder.', models.faceEncoder, 'face_encoder.safetensors'], ['unet.', models.unet, 'unet.safetensors']] as const;
  for (const [prefix, module, file] of files) {
    const state = new Map<string, torch.RawTensor>();
    for (const [k, t] of module.stateDict()) state.set(k, (averaged.get(prefix + k) ?? t).detach().contiguous().to('cpu').raw());
    writeSafetensors(join(dir, file), state, { format: 'pt' });
  }
}

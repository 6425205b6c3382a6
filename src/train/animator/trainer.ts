// StableAnimator training (paper Sec. III-D, eq. 25; the reference's `train.py`), one optimizer step at a time:
//
//   1. take the step's batch from the prefetcher (loaded while the previous step ran)
//   2. per micro-batch: eq. 25 loss / accumulation, backward (gradient checkpointing inside the UNet)
//   3. in a process group: average the gradients over the ranks (before clipping)
//   4. clip (optional), learning rate of the step, AdamW, EMA
//   5. rank 0: log (train.jsonl, loss.png, progress), validate, checkpoint
//
// Exact resume: the batch, the frames, σ, dropout and every noise tensor of step k are functions of
// (seed, k, sample), the learning rate a function of k, and the checkpoint holds the weights, AdamW's moments
// and the EMA; so a run killed at any point continues from its last checkpoint with exactly the updates an
// uninterrupted run makes.
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
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../nn/optim/checkpoint.ts';
import type { TrainConfig } from './train-config.ts';
import { selectTrainable } from './trainable.ts';
import { validateAnimation, type LargestFaceEmbedding } from './validation.ts';
import { lockFolder } from '../../io/lock.ts';

/** What the trainer needs of a process group (src/torch/distributed.ts provides it). */
export interface DataParallel {
  rank: number;
  worldSize: number;
  allReduceGradients(params: Tensor[]): void;
  broadcastParameters(params: Tensor[]): void;
  /** Averages numbers over the ranks (for the logged loss). */
  averageScalars(values: number[]): number[];
}

export interface TrainProgress {
  step: number;
  total: number;
  loss: number;
  itPerSec: number;
  etaSeconds: number;
}

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
  options.parallel?.broadcastParameters(tensors);
  const opt = new nn.AdamW(tensors, { lr: c.lr, betas: [c.adamBeta1, c.adamBeta2], eps: c.adamEps, weightDecay: c.weightDecay });
  const schedule = c.lrSchedule === 'cosine'
    ? nn.cosineWithWarmup(c.lr, c.steps, { warmupSteps: c.warmupSteps, minLr: c.minLr })
    : nn.constantWithWarmup(c.lr, c.warmupSteps);
  const ema = c.emaDecay > 0 ? new nn.EMA(params, c.emaDecay) : undefined;
  const numel = tensors.reduce((n, p) => n + p.numel, 0);
  log(`trainable: ${numel.toLocaleString('en')} parameters in ${params.length} tensors (${JSON.stringify(c.trainable)}); ` +
    `global batch ${c.batchSize} x ${c.gradientAccumulation} accumulation x ${world} processes`);

  // resume
  const ckptDir = join(c.output, 'checkpoints');
  if (main) mkdirSync(ckptDir, { recursive: true });
  const unlock = main ? lockFolder(c.output) : () => {};
  const settings = determinismSettings(c, world);
  let step = 0;
  const latest = listCheckpoints(ckptDir).pop();
  if (latest) {
    const loaded = loadCheckpoint(latest.path, { params, optimizer: opt, ema, settings });
    step = loaded.step;
    for (const [clip, reason] of Object.entries(loaded.badClips)) loader.bad.set(clip, reason);
    log(`resumed from ${latest.path} at step ${step}`);
  }
  const records = main ? readLog(join(c.output, LOG_FILE), step) : [];
  const startStep = step;

  const lossConfig: LossConfig = {
    conditioningDropout: c.conditioningDropout, noiseAugStrength: c.noiseAugStrength, fps: c.fps, motionBucketId: c.motionBucketId,
    sigma: sigmaSampling(c), autocast: mixedPrecisionDtype(c), vaeEncodeChunk: c.vaeEncodeChunk, faceMaskLoss: c.faceMaskLoss,
  };
  const idDim = models.faceEncoder.config.idEmbeddingsDim;
  // one entry per micro-batch: this rank's samples
  const loadStep = (k: number): Promise<LoadedSample[][]> => {
    const batch = order.batch(k);
    return Promise.all(Array.from({ length: c.gradientAccumulation }, (_, m) =>
      Promise.all(shardSlots(batch, m, c.batchSize, rank, world).map((ref) => loader.load(k, ref)))));
  };
  const prefetch = new Prefetcher(loadStep, step, c.prefetch, c.steps);

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

  const losses: number[] = [];
  const t0 = performance.now();
  let stopped = false;
  while (step < c.steps) {
    // 1. batch
    const micro = await prefetch.next();
    const stepStart = performance.now();
    // 2. forward/backward per micro-batch
    const batch = order.batch(step);
    const sigmas: number[] = [];
    let lossSum = 0;
    micro.forEach((samples, m) => {
      const draws = shardSlots(batch, m, c.batchSize, rank, world).map((ref) => drawSample(c.seed, step, ref.slot, lossConfig.sigma));
      sigmas.push(...draws.map((d) => d.sigma));
      lossSum += torch.scope(() => {
        const loss = denoisingLoss(models, batchTensors(samples, idDim, device), draws, lossConfig);
        loss.div(c.gradientAccumulation).backward();
        return loss.item();
      });
    });
    let loss = lossSum / c.gradientAccumulation;
    if (!Number.isFinite(loss)) throw new Error(`training: the loss became ${loss} at step ${step} (clips ${micro.flat().map((s) => s.clip).join(', ')})`);
    // 3. average over the ranks
    if (options.parallel) {
      options.parallel.allReduceGradients(tensors);
      [loss] = options.parallel.averageScalars([loss]);
    }
    // 4. clip, step, EMA
    const gradNorm = nn.clipGradNorm(tensors, c.maxGradNorm > 0 ? c.maxGradNorm : Infinity);
    const lr = schedule(step);
    opt.setLr(lr);
    opt.step();
    opt.zeroGrad();
    ema?.update();
    step++;
    losses.push(loss);

    // 5. logs, validation, checkpoint (rank 0)
    const elapsed = (performance.now() - t0) / 1000;
    const itPerSec = (step - startStep) / elapsed;
    options.onProgress?.({ step, total: c.steps, loss, itPerSec, etaSeconds: (c.steps - step) / itPerSec });
    if (main) {
      records.push({ type: 'train', step, loss, lr, grad_norm: gradNorm, sigma: sigmas, bucket: batch.bucket,
        seconds: (performance.now() - stepStart) / 1000, skipped_clips: loader.bad.size });
      if (step % c.logEvery === 0 || step === c.steps) {
        log(`step ${step}/${c.steps}  loss ${loss.toFixed(4)}  lr ${lr.toExponential(2)}  grad norm ${gradNorm.toFixed(3)}  ${itPerSec.toFixed(3)} it/s`);
        await writeLog(c.output, records);
      }
      if (c.validateEvery > 0 && step % c.validateEvery === 0) await (options.validate ? validateWithHook(step, options.validate) : validate(step));
      if (step % c.checkpointEvery === 0 || step === c.steps) {
        saveCheckpoint(ckptDir, { step, params, optimizer: opt, ema, settings, badClips: Object.fromEntries(loader.bad) }, c.keepCheckpoints);
        await writeLog(c.output, records);
      }
    }
    await new Promise(setImmediate); // let the prefetch's callbacks run
    if (options.stopAfter !== undefined && step >= options.stopAfter && step < c.steps) {
      stopped = true;
      break;
    }
  }
  if (!stopped && main && c.exportWeights) exportWeights(join(c.output, 'final'), models, ema);
  if (main) log(stopped ? `stopped at step ${step}` : `finished ${step} steps; weights in ${join(c.output, 'final')}`);
  unlock();
  return { step, finished: !stopped, startStep, losses, params, ema, badClips: Object.fromEntries(loader.bad), seconds: (performance.now() - started) / 1000 };
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

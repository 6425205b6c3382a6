// Training the learnable alignment block (paper eq. 12): single-frame (reference, perturbed driven) pairs
// drawn fresh every step from the training sequences, loss = mean Euclidean distance over the visible body
// keypoints between the aligned and the unperturbed pose, AdamW with warmup and cosine decay, gradient clipping.
//
// Everything a step uses is a function of (seed, step) and the saved state, so a run killed at any point
// and resumed from its last checkpoint continues with exactly the losses it would have had:
//   - the batch of step k comes from an RNG seeded by (seed, k);
//   - the learning rate is a pure function of k;
//   - the checkpoint (outDir/checkpoints/, written by the shared training loop every `checkpointEvery` steps)
//     holds the weights, the AdamW moments and step counts, the loss history and the validation history.
// Outputs in outDir: config.json + model.safetensors (the trained block, loadable with
// LearnedAlignment.fromPretrained), loss.png, train.json (summary), checkpoints/.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.ts';
import type { RawTensor } from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import { writeSafetensors } from '../torch/serialization/index.ts';
import { runTrainingLoop } from '../nn/optim/training-loop.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { plotLines, savePlot } from '../io/plot.ts';
import type { LineSeries } from '../io/plot.ts';
import { batchToTensors, buildAlignmentBatch } from './alignment-features.ts';
import { alignmentLoss } from './alignment-loss.ts';
import { ALIGNMENT_CONFIG_FILE, ALIGNMENT_WEIGHTS_FILE, LearnedAlignment } from './learned-alignment.ts';
import type { LearnedAlignmentConfig } from './learned-alignment.ts';
import { evaluateMisAlign } from './misalign-eval.ts';
import type { PerturbationRanges } from '../pose/motion-data.ts';
import { drawTrainingPairs } from './training-data.ts';
import { smooth } from '../util/loss-curve.ts';
import { positionRng } from '../util/seeds.ts';
import type { AlignmentData } from './training-data.ts';

export interface TrainAlignmentOptions {
  outDir: string;
  data: AlignmentData;
  config?: Partial<LearnedAlignmentConfig>;
  steps: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  warmupSteps?: number;
  /** The cosine decay ends at lr·minLrRatio; default 0.05. */
  minLrRatio?: number;
  /** Gradient clipping (global L2 norm); default 1. */
  maxGradNorm?: number;
  seed?: number;
  logEvery?: number;
  /** Validation Dis every this many steps (and at the end); 0 = only at the end. */
  valEvery?: number;
  checkpointEvery?: number;
  /** Continue from outDir's checkpoint when there is one; default true. */
  resume?: boolean;
  ranges?: Partial<PerturbationRanges>;
  maxReferenceGap?: number;
  /** Scene augmentation ranges (see drawTrainingPairs); default none. */
  scene?: Partial<PerturbationRanges>;
  /** Validation samples per held-out sequence and frames per sample; default 32 x 16 (as align eval). */
  valSamplesPerSequence?: number;
  valClipLength?: number;
  /** Stop after this step as if killed (after its checkpoint, if one is due); for tests. */
  stopAfter?: number;
  /** Write loss.png; default true. */
  plot?: boolean;
  log?: (line: string) => void;
}

export interface ValidationPoint {
  step: number;
  dis: number;
}

export interface TrainAlignmentResult {
  model: LearnedAlignment;
  /** Training loss per step (index = step), from step 0, resumed runs included. */
  losses: number[];
  val: ValidationPoint[];
  /** Validation Dis of the rule-based methods on the same samples. */
  baselines: { none: number; polyfit: number; svd: number };
  /** The step training stopped at (= steps when finished). */
  step: number;
  finished: boolean;
  /** Seconds spent in this call. */
  seconds: number;
}

interface Hyper {
  steps: number; batchSize: number; lr: number; weightDecay: number; warmupSteps: number; minLrRatio: number;
  maxGradNorm: number; seed: number; ranges?: Partial<PerturbationRanges>; maxReferenceGap?: number;
  scene?: Partial<PerturbationRanges>;
}

/** What a resumed run must share with its checkpoint: the model's config and the hyper-parameters that change a step. */
function resumeSettings(model: LearnedAlignment, hyper: Hyper): Record<string, unknown> {
  const { steps, batchSize, lr, weightDecay, warmupSteps, minLrRatio, maxGradNorm, seed, ranges, maxReferenceGap, scene } = hyper;
  return { config: model.config, steps, batchSize, lr, weightDecay, warmupSteps, minLrRatio, maxGradNorm, seed, ranges, maxReferenceGap, scene };
}

/** Writes config.json + model.safetensors: the folder LearnedAlignment.fromPretrained reads. */
export async function saveAlignmentWeights(dir: string, model: LearnedAlignment, metadata: Record<string, string> = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, RawTensor>();
  for (const [k, t] of model.stateDict()) tensors.set(k, t.detach().contiguous().raw());
  writeSafetensors(join(dir, ALIGNMENT_WEIGHTS_FILE), tensors, { format: 'pt', ...metadata });
  await writeFileAtomic(join(dir, ALIGNMENT_CONFIG_FILE), `${JSON.stringify({ _class_name: 'LearnedAlignment', ...model.config }, null, 2)}\n`);
}

export async function writeLossPlot(path: string, losses: readonly number[], val: readonly ValidationPoint[], baselines?: TrainAlignmentResult['baselines']): Promise<void> {
  const steps = losses.map((_, i) => i);
  const series: LineSeries[] = [
    { label: 'train loss', x: steps, y: smooth(losses, 25), color: [0, 114, 178] },
    { label: 'val Dis', x: val.map((v) => v.step), y: val.map((v) => v.dis), color: [213, 94, 0], markers: true },
  ];
  if (baselines) {
    series.push({ label: `val svd ${baselines.svd.toFixed(4)}`, x: [], y: [baselines.svd], color: [0, 158, 115], style: 'hline' });
    series.push({ label: `val polyfit ${baselines.polyfit.toFixed(4)}`, x: [], y: [baselines.polyfit], color: [204, 121, 167], style: 'hline' });
  }
  await savePlot(path, plotLines(series, { title: 'alignment training', xLabel: 'step', yLabel: 'distance (normalised)', logY: true }));
}

export async function trainAlignment(options: TrainAlignmentOptions): Promise<TrainAlignmentResult> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const hyper: Hyper = {
    steps: options.steps,
    batchSize: options.batchSize ?? 128,
    lr: options.lr ?? 1e-3,
    weightDecay: options.weightDecay ?? 0.01,
    warmupSteps: options.warmupSteps ?? 100,
    minLrRatio: options.minLrRatio ?? 0.05,
    maxGradNorm: options.maxGradNorm ?? 1,
    seed: options.seed ?? 0,
    ranges: options.ranges,
    maxReferenceGap: options.maxReferenceGap,
    scene: options.scene,
  };
  if (!(Number.isInteger(hyper.steps) && hyper.steps > 0)) throw new Error(`trainAlignment: steps must be a positive integer, got ${hyper.steps}`);
  if (options.data.train.length === 0) throw new Error('trainAlignment: no training sequences');
  if (options.data.val.length === 0) throw new Error('trainAlignment: no validation sequences');
  mkdirSync(options.outDir, { recursive: true });
  const model = nn.withInit({ seed: hyper.seed }, () => new LearnedAlignment(options.config));
  const params = model.parameters();
  log(`alignment block: ${model.numParameters()} parameters, config ${JSON.stringify(model.config)}`);
  log(`data: ${options.data.train.length} training sequences, ${options.data.val.length} held out (${options.data.val.map((s) => s.name).join(', ')})`);

  const valOptions = { samplesPerSequence: options.valSamplesPerSequence ?? 32, clipLength: options.valClipLength ?? 16, seed: hyper.seed, ranges: hyper.ranges, maxReferenceGap: hyper.maxReferenceGap };
  const baselineEval = evaluateMisAlign(options.data.val, valOptions);
  const baselines = { none: baselineEval.dis.none!, polyfit: baselineEval.dis.polyfit!, svd: baselineEval.dis.svd! };
  log(`val baselines (${baselineEval.frames} frames): none ${baselines.none.toFixed(4)}  polyfit ${baselines.polyfit.toFixed(4)}  svd ${baselines.svd.toFixed(4)}`);
  let val: ValidationPoint[] = [];
  const validate = (at: number): void => {
    model.eval();
    const dis = evaluateMisAlign(options.data.val, { ...valOptions, model }).dis.learned!;
    model.train();
    val = [...val.filter((v) => v.step !== at), { step: at, dis }];
    log(`step ${at}  val Dis ${dis.toFixed(4)}  (svd ${baselines.svd.toFixed(4)}, ratio ${(dis / baselines.svd).toFixed(3)})`);
  };
  const valEvery = options.valEvery ?? 500;

  const loop = await runTrainingLoop({
    name: 'align', outDir: options.outDir, weights: model, params, steps: hyper.steps, settings: resumeSettings(model, hyper),
    optimizer: new nn.AdamW(params, { lr: hyper.lr, weightDecay: hyper.weightDecay }),
    lr: nn.cosineWithWarmup(hyper.lr, hyper.steps, { warmupSteps: hyper.warmupSteps, minLr: hyper.lr * hyper.minLrRatio }),
    maxGradNorm: hyper.maxGradNorm, logEvery: options.logEvery ?? 50, checkpointEvery: options.checkpointEvery ?? 250,
    resume: options.resume, stopAfter: options.stopAfter, plot: false, log,
    extraState: () => ({ val }),
    onResume: (step, extra) => { val = ((extra.val as ValidationPoint[] | undefined) ?? []).filter((v) => v.step <= step); },
    // the last step's validation lands in its checkpoint
    afterStep: ({ step }) => { if ((valEvery > 0 && step % valEvery === 0) || step === hyper.steps) validate(step); },
    lossAt: (step) => {
      const pairs = drawTrainingPairs(options.data.train, positionRng(hyper.seed, step), hyper.batchSize, { ranges: hyper.ranges, maxReferenceGap: hyper.maxReferenceGap, scene: hyper.scene });
      const batch = buildAlignmentBatch(pairs);
      return torch.scope(() => {
        const t = batchToTensors(batch);
        const { aligned } = model.alignPoints(t);
        const l = alignmentLoss(aligned, t.target!, t.targetMask!);
        l.backward();
        return l.item();
      });
    },
  });
  const { step, losses } = loop;
  const stopped = !loop.finished;

  if (!stopped) {
    const final = val[val.length - 1]!;
    await saveAlignmentWeights(options.outDir, model, { step: String(step), val_dis: String(final.dis) });
    const summary = {
      steps: step, hyper, config: model.config, parameters: model.numParameters(),
      train: options.data.train.map((s) => s.name), val: options.data.val.map((s) => s.name),
      val_frames: baselineEval.frames, baselines, learned: final.dis, final_loss: losses[losses.length - 1],
    };
    await writeFileAtomic(join(options.outDir, 'train.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }
  if (options.plot ?? true) await writeLossPlot(join(options.outDir, 'loss.png'), losses, val, baselines);
  return { model, losses, val, baselines, step, finished: !stopped, seconds: (performance.now() - started) / 1000 };
}

// The one training loop: every trainer here (the animator, the alignment block, the miniature's VAE, image
// encoder and face-ID net) supplies the loss of a micro-batch and gets, per optimizer step:
//
//   1. forward/backward of each micro-batch (gradient accumulation; the caller scales by 1/accumulation)
//   2. in a process group: the gradients averaged over the ranks (before clipping), the loss too
//   3. clipping (optional; the norm is always measured), the step's learning rate, the optimizer, the EMA
//   4. rank 0: the progress line (loss, lr, grad norm, ms/step, ETA), the caller's afterStep hook (logs,
//      validation), a checkpoint every N steps (the last K kept)
//
// Exact resume: a step's loss and gradients are a pure function of the step index (the caller draws batches
// and noise from (seed, step)), the learning rate a function of the step, and the checkpoint holds the weights,
// the optimizer's moments, the EMA and the caller's extras; so a run killed at any point continues from its
// last checkpoint with exactly the updates an uninterrupted run makes. A loss plot (loss.png) at the end.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../../torch/index.ts';
import type { Adam } from './adam.ts';
import { clipGradNorm } from './clip-grad.ts';
import type { EMA } from './ema.ts';
import { cosineWithWarmup, type LrSchedule } from './lr-schedule.ts';
import { plotLines, savePlot } from '../../io/plot.ts';
import { formatDuration } from '../../util/format.ts';
import { listCheckpoints, loadCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint.ts';
import { smooth } from '../../util/loss-curve.ts';
import { lockFolder } from '../../io/lock.ts';

/** What the loop needs of a process group (src/torch/distributed.ts provides it). */
export interface DataParallel {
  rank: number;
  worldSize: number;
  allReduceGradients(params: Tensor[]): void;
  broadcastParameters(params: Tensor[]): void;
  /** Averages numbers over the ranks (for the logged loss). */
  averageScalars(values: number[]): number[];
}

/** One finished optimizer step, as the hooks see it. */
export interface StepReport {
  /** Steps done (1 after the first). */
  step: number;
  total: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Wall time of this step. */
  seconds: number;
  itPerSec: number;
  etaSeconds: number;
}

export interface TrainingLoopOptions {
  /** Names the log lines and the checkpoint format. */
  name: string;
  /** Checkpoints go to outDir/checkpoints, loss.png to outDir. */
  outDir: string;
  /** What a checkpoint restores: a module (whole state dict) or the trained tensors by name. */
  weights: CheckpointState['weights'];
  /** The trained tensors (all-reduced, clipped, stepped). */
  params: Tensor[];
  optimizer: Adam;
  lr: LrSchedule;
  steps: number;
  /** Options that must be equal on resume (stored in the checkpoint). */
  settings: object;
  /** Forward and backward of micro-batch `micro` of step `step` (gradients accumulated into params); returns its loss. */
  lossAt(step: number, micro: number): number | Promise<number>;
  /** Micro-batches per step; default 1. */
  accumulation?: number;
  parallel?: DataParallel;
  ema?: EMA;
  /** 0 or absent = no clipping. */
  maxGradNorm?: number;
  checkpointEvery?: number;
  /** Checkpoints kept; default 1. */
  keepCheckpoints?: number;
  logEvery?: number;
  /** Default true: continue from the newest checkpoint when there is one. */
  resume?: boolean;
  /** Stop after this step as if killed (after its checkpoint, when one is due); for tests. */
  stopAfter?: number;
  /** Write loss.png at the end; default true. */
  plot?: boolean;
  log?: (line: string) => void;
  /** The caller's JSON state, saved in every checkpoint. */
  extraState?: () => Record<string, unknown>;
  /** Called once with the extras of the checkpoint a run resumes from. */
  onResume?: (step: number, extra: Record<string, unknown>) => void;
  /** Rank 0, after each step, before its checkpoint: the caller's logs and validation. */
  afterStep?: (r: StepReport) => void | Promise<void>;
  /** Every rank, after each step. */
  onProgress?: (r: StepReport) => void;
}

/** The small trainers' schedule: linear warmup over min(100, steps/10) steps, cosine down to 5% of lr. */
export function warmupCosine(lr: number, steps: number): LrSchedule {
  return cosineWithWarmup(lr, steps, { warmupSteps: Math.min(100, Math.floor(steps / 10)), minLr: lr * 0.05 });
}

export interface TrainingLoopResult {
  /** The step training stopped at (= steps when finished). */
  step: number;
  /** The loss of every step from 0 (resumed runs included). */
  losses: number[];
  finished: boolean;
  /** The step this call started from (> 0 after a resume). */
  resumedFrom: number;
  seconds: number;
}

export async function runTrainingLoop(o: TrainingLoopOptions): Promise<TrainingLoopResult> {
  if (!(Number.isInteger(o.steps) && o.steps > 0)) throw new Error(`${o.name}: steps must be a positive integer, got ${o.steps}`);
  const started = performance.now();
  const main = (o.parallel?.rank ?? 0) === 0;
  const log = (line: string) => { if (main) (o.log ?? console.log)(line); };
  const format = `stable-animator-${o.name}-checkpoint/2`;
  const accumulation = o.accumulation ?? 1;
  const checkpointEvery = o.checkpointEvery ?? 100;
  const logEvery = o.logEvery ?? 25;
  const dir = join(o.outDir, 'checkpoints');
  if (main) mkdirSync(dir, { recursive: true });
  const unlock = main ? lockFolder(o.outDir) : () => {};
  const state = { weights: o.weights, optimizer: o.optimizer, ema: o.ema, settings: o.settings };
  o.parallel?.broadcastParameters(o.params);

  let step = 0;
  let losses: number[] = [];
  const latest = (o.resume ?? true) ? listCheckpoints(dir).pop() : undefined;
  if (latest) {
    const loaded = loadCheckpoint(latest.path, format, state);
    step = loaded.step;
    losses = ((loaded.extra.losses as number[] | undefined) ?? []).slice(0, step);
    o.onResume?.(step, loaded.extra);
    log(`${o.name}: resumed from ${latest.path} at step ${step}`);
  }
  const save = () => saveCheckpoint(dir, format, { ...state, step, extra: { ...o.extraState?.(), losses } }, o.keepCheckpoints);
  const resumedFrom = step;
  // a module trains whole (dropout, batch norm); trained tensors' modules are the caller's to switch
  const module = Array.isArray(o.weights) ? undefined : o.weights;
  module?.train();
  const t0 = performance.now();
  let finished = true;
  while (step < o.steps) {
    const stepStart = performance.now();
    // 1. micro-batches
    o.optimizer.zeroGrad();
    let lossSum = 0;
    for (let m = 0; m < accumulation; m++) lossSum += await o.lossAt(step, m);
    let loss = lossSum / accumulation;
    if (!Number.isFinite(loss)) throw new Error(`${o.name}: the loss became ${loss} at step ${step}`);
    // 2. average over the ranks
    if (o.parallel) {
      o.parallel.allReduceGradients(o.params);
      [loss] = o.parallel.averageScalars([loss]);
    }
    // 3. clip, step, EMA
    const gradNorm = clipGradNorm(o.params, o.maxGradNorm ? o.maxGradNorm : Infinity);
    const lr = o.lr(step);
    o.optimizer.setLr(lr);
    o.optimizer.step();
    o.ema?.update();
    losses[step] = loss;
    step++;
    // 4. progress, hooks, checkpoint
    const perStep = (performance.now() - t0) / 1000 / (step - resumedFrom);
    const report: StepReport = {
      step, total: o.steps, loss, lr, gradNorm, seconds: (performance.now() - stepStart) / 1000, itPerSec: 1 / perStep, etaSeconds: perStep * (o.steps - step),
    };
    o.onProgress?.(report);
    if (step % logEvery === 0 || step === o.steps) {
      const recent = losses.slice(Math.max(0, step - logEvery), step);
      log(`${o.name}: step ${step}/${o.steps}  loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(5)}  lr ${lr.toExponential(2)}  ` +
        `grad norm ${gradNorm.toFixed(3)}  ${(perStep * 1000).toFixed(0)} ms/step  ETA ${formatDuration(report.etaSeconds)}`);
    }
    if (main) await o.afterStep?.(report);
    // tensors' finalizers and the prefetchers' callbacks run between event-loop turns
    await new Promise(setImmediate);
    if (main && (step % checkpointEvery === 0 || step === o.steps)) save();
    if (o.stopAfter !== undefined && step >= o.stopAfter && step < o.steps) {
      finished = false;
      break;
    }
  }
  o.optimizer.zeroGrad();
  module?.eval();
  if (main && (o.plot ?? true) && losses.length > 1) {
    const xs = losses.map((_, i) => i + 1);
    await savePlot(join(o.outDir, 'loss.png'), plotLines([
      { label: 'loss', x: xs, y: losses },
      { label: 'moving average', x: xs, y: smooth(losses, Math.max(5, Math.round(losses.length / 50))) },
    ], { title: `${o.name} training loss`, xLabel: 'step', yLabel: 'loss', logY: true }));
  }
  unlock();
  return { step, losses, finished, resumedFrom, seconds: (performance.now() - started) / 1000 };
}

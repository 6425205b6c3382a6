// The loop every small trainer here shares (miniature VAE, image encoder, ...): a step's loss and gradients
// come from the caller as a pure function of the step index, so a run killed at any point and resumed from
// its last checkpoint (outDir/checkpoint.safetensors: weights, optimizer state, losses) continues exactly as
// an uninterrupted run. Progress with ms/step and ETA; a loss plot (loss.png) at the end.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import { plotLines, savePlot } from '../io/plot.ts';
import { formatDuration } from '../util/format.ts';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../nn/optim/checkpoint.ts';
import { smooth } from '../util/loss-curve.ts';
import { lockFolder } from '../io/lock.ts';

export const LOOP_CHECKPOINT = 'checkpoint.safetensors';

export interface TrainingLoopOptions {
  /** Names the checkpoint format and the log lines. */
  name: string;
  outDir: string;
  /** Everything the checkpoint holds (trained and frozen parts alike are restored). */
  model: nn.Module;
  params: Tensor[];
  optimizer: nn.Adam;
  lr: nn.LrSchedule;
  steps: number;
  /** Options that must be equal on resume (stored in the checkpoint). */
  settings: object;
  /** Forward and backward of step k (gradients accumulated into params); returns the loss. */
  lossAt(step: number): number | Promise<number>;
  /** 0 = no clipping. */
  maxGradNorm?: number;
  checkpointEvery?: number;
  logEvery?: number;
  /** Default true: continue from outDir's checkpoint when there is one. */
  resume?: boolean;
  /** Stop after this step as if killed (after its checkpoint, when one is due); for tests. */
  stopAfter?: number;
  plot?: boolean;
  log?: (line: string) => void;
}

/** The small trainers' schedule: linear warmup over min(100, steps/10) steps, cosine down to 5% of lr. */
export function warmupCosine(lr: number, steps: number): nn.LrSchedule {
  return nn.cosineWithWarmup(lr, steps, { warmupSteps: Math.min(100, Math.floor(steps / 10)), minLr: lr * 0.05 });
}

export interface TrainingLoopResult {
  step: number;
  losses: number[];
  finished: boolean;
  resumedFrom: number;
  seconds: number;
}

export async function runTrainingLoop(o: TrainingLoopOptions): Promise<TrainingLoopResult> {
  if (!(Number.isInteger(o.steps) && o.steps > 0)) throw new Error(`${o.name}: steps must be a positive integer, got ${o.steps}`);
  const log = o.log ?? ((line: string) => console.log(line));
  const format = `stable-animator-${o.name}-checkpoint/1`;
  const checkpointEvery = o.checkpointEvery ?? 100;
  const logEvery = o.logEvery ?? 25;
  mkdirSync(o.outDir, { recursive: true });
  const unlock = lockFolder(o.outDir);
  const checkpoint = join(o.outDir, LOOP_CHECKPOINT);
  let step = 0;
  let losses: number[] = [];
  if ((o.resume ?? true) && existsSync(checkpoint)) {
    const state = loadTrainingCheckpoint(checkpoint, format, o.model, o.optimizer, o.settings);
    step = state.step;
    losses = ((state.extra.losses as number[] | undefined) ?? []).slice(0, step);
    log(`${o.name}: resumed from ${checkpoint} at step ${step}`);
  }
  const save = () => saveTrainingCheckpoint(checkpoint, format, o.model, o.optimizer, o.settings, { step, extra: { losses } });
  const resumedFrom = step;
  const t0 = performance.now();
  o.model.train();
  let finished = true;
  while (step < o.steps) {
    o.optimizer.zeroGrad();
    const loss = await o.lossAt(step);
    if (!Number.isFinite(loss)) throw new Error(`${o.name}: the loss became ${loss} at step ${step}`);
    if (o.maxGradNorm) nn.clipGradNorm(o.params, o.maxGradNorm);
    o.optimizer.setLr(o.lr(step));
    o.optimizer.step();
    losses[step] = loss;
    step++;
    if (step % logEvery === 0 || step === o.steps) {
      const perStep = (performance.now() - t0) / 1000 / (step - resumedFrom);
      const recent = losses.slice(Math.max(0, step - logEvery), step);
      log(`${o.name}: step ${step}/${o.steps}  loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(5)}  ` +
        `lr ${o.lr(step - 1).toExponential(2)}  ${(perStep * 1000).toFixed(0)} ms/step  ETA ${formatDuration(perStep * (o.steps - step))}`);
    }
    // tensors' finalizers run between event-loop turns
    await new Promise(setImmediate);
    if (step % checkpointEvery === 0 || step === o.steps) save();
    if (o.stopAfter !== undefined && step >= o.stopAfter && step < o.steps) {
      finished = false;
      break;
    }
  }
  o.model.eval();
  if ((o.plot ?? true) && losses.length > 1) {
    const xs = losses.map((_, i) => i + 1);
    await savePlot(join(o.outDir, 'loss.png'), plotLines([
      { label: 'loss', x: xs, y: losses },
      { label: 'moving average', x: xs, y: smooth(losses, Math.max(5, Math.round(losses.length / 50))) },
    ], { title: `${o.name} training loss`, xLabel: 'step', yLabel: 'loss', logY: true }));
  }
  unlock();
  return { step, losses, finished, resumedFrom, seconds: (performance.now() - t0) / 1000 };
}

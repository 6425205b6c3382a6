// `stable-animator align train`: trains the learnable alignment block on the real motion data (eq. 12), with
// progress lines, checkpoints, resume after a kill, validation Dis on held-out sequences and a loss plot.

import { parseArgs } from 'node:util';
import * as torch from '../torch/index.ts';
import { loadAlignmentData } from '../align/training-data.ts';
import { trainAlignment } from '../align/train.ts';
import { num } from './args.ts';
import type { Command } from './main.ts';

/** The settings the shipped weights (weights/align) were trained with. */
export const ALIGN_TRAIN_DEFAULTS = {
  steps: 1500, batchSize: 128, lr: 1e-3, warmup: 100, seed: 0, bvhCameras: 12, hidden: 64, threads: 1,
} as const;

/** Scene augmentation of the shipped training (see drawTrainingPairs): ±5°, scale 0.85-1.18, shift ±0.08. */
export const ALIGN_TRAIN_SCENE = { maxRotationDeg: 5, scale: [0.85, 1.18] as [number, number], maxShift: 0.08 };

const D = ALIGN_TRAIN_DEFAULTS;
const USAGE = `stable-animator align train -o DIR [--data ../shared/data/motion] [--steps ${D.steps}] [--batch ${D.batchSize}]
                         [--lr ${D.lr}] [--warmup ${D.warmup}] [--seed ${D.seed}] [--hidden ${D.hidden}] [--bvh-cameras ${D.bvhCameras}]
                         [--val-every 250] [--checkpoint-every 100] [--threads ${D.threads}] [--no-scene] [--no-resume]

  Trains the alignment block on (reference, perturbed driven) pairs from the BVH and DWPose sequences of
  --data (bvh/, dwpose/), holding out a quarter of the sequences of each source for validation. Re-running
  the same command after a kill continues from DIR/checkpoints/. Training sequences are used
  mirrored too, BVH ones through --bvh-cameras random cameras; --no-scene turns off the scene augmentation
  (a small random move of reference and ground truth together). Writes DIR/config.json and
  DIR/model.safetensors (load with --weights DIR), DIR/loss.png and DIR/train.json.`;

/** A non-negative number option, or an error naming the flag. */


export const alignTrain: Command = {
  summary: 'train the learnable pose-alignment block on the motion data',
  usage: USAGE,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        output: { type: 'string', short: 'o' },
        data: { type: 'string', default: '../shared/data/motion' },
        steps: { type: 'string', default: String(D.steps) },
        batch: { type: 'string', default: String(D.batchSize) },
        lr: { type: 'string', default: String(D.lr) },
        warmup: { type: 'string', default: String(D.warmup) },
        seed: { type: 'string', default: String(D.seed) },
        hidden: { type: 'string', default: String(D.hidden) },
        'bvh-cameras': { type: 'string', default: String(D.bvhCameras) },
        'val-every': { type: 'string', default: '250' },
        'checkpoint-every': { type: 'string', default: '100' },
        threads: { type: 'string', default: String(D.threads) },
        'no-scene': { type: 'boolean' },
        'no-resume': { type: 'boolean' },
      },
    });
    if (!values.output) throw new Error(`-o DIR is required\nusage: ${USAGE}`);
    torch.setNumThreads(Math.max(1, num('threads', values.threads, true)));
    const hidden = num('hidden', values.hidden, true);
    const data = await loadAlignmentData({ motionDir: values.data, seed: num('seed', values.seed, true), bvhCameras: num('bvh-cameras', values['bvh-cameras'], true) });
    const result = await trainAlignment({
      outDir: values.output,
      data,
      config: { hidden_size: hidden, intermediate_size: 2 * hidden },
      steps: num('steps', values.steps, true),
      batchSize: num('batch', values.batch, true),
      lr: num('lr', values.lr, false),
      warmupSteps: num('warmup', values.warmup, true),
      seed: num('seed', values.seed, true),
      valEvery: num('val-every', values['val-every'], true),
      checkpointEvery: Math.max(1, num('checkpoint-every', values['checkpoint-every'], true)),
      scene: values['no-scene'] ? undefined : ALIGN_TRAIN_SCENE,
      resume: !values['no-resume'],
    });
    const last = result.val[result.val.length - 1];
    console.log(`trained ${result.step} steps in ${(result.seconds / 60).toFixed(1)} min: val Dis ${last?.dis.toFixed(4)} ` +
      `(none ${result.baselines.none.toFixed(4)}, polyfit ${result.baselines.polyfit.toFixed(4)}, svd ${result.baselines.svd.toFixed(4)}); weights in ${values.output}`);
    return 0;
  },
};

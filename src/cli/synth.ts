// `stable-animator synth`: writes the synthetic dataset (figures driven by real motion, in the reference's
// animation_data layout) and `synth train-faceid` trains the miniature face-ID network on it.

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as torch from '../torch/index.ts';
import { writeImage } from '../io/image.ts';
import { clipSheet, contactSheet } from '../mini/synth/contact-sheet.ts';
import { readSynthDataset, writeSynthDataset } from '../mini/synth/dataset.ts';
import { FACEID_SMALL, trainFaceId } from '../mini/face-id.ts';
import { num } from './args.ts';
import type { Command } from './main.ts';
import { progressReporter } from './progress.ts';

const SYNTH_USAGE = `stable-animator synth --identities N --clips-per-identity K --frames F -o ROOT [--seed 0] [--size 128]
                     [--stride 3] [--held-out-identities 0.2] [--held-out-motion-clips 0.25]
                     [--motion ../shared/data/motion] [--sheet PATH]

  Writes ROOT/rec/<clip>/{images,faces,poses}/frame_i.png, keypoints.json and faces.json per clip, the path
  lists ROOT/video_rec_path.txt and video_vec_path.txt, ROOT/identities.json (identity parameters and clip
  labels), ROOT/split.json (training / held-out identities and motions), ROOT/identities.png (a contact
  sheet; --sheet writes a copy elsewhere too) and ROOT/clips.png (a few clips with their poses and masks). Same options and seed give byte-identical files; re-running
  the command after a kill finishes the missing clips.`;

export const FACEID_TRAIN_DEFAULTS = { steps: 1200, batch: 64, lr: 2e-3, warmup: 100, seed: 0, scale: 30, margin: 0.3, jitter: 0.1, side: FACEID_SMALL.input_size, threads: 1 } as const;
const F = FACEID_TRAIN_DEFAULTS;

const FACEID_USAGE = `stable-animator synth train-faceid --data ROOT -o DIR [--steps ${F.steps}] [--batch ${F.batch}] [--lr ${F.lr}]
                     [--warmup ${F.warmup}] [--seed ${F.seed}] [--scale ${F.scale}] [--margin ${F.margin}] [--jitter ${F.jitter}] [--side ${F.side}]
                     [--threads ${F.threads}] [--checkpoint-every 100] [--no-resume]

  Trains a small iResNet with the ArcFace loss on the face crops of ROOT's training clips (squares around
  the face boxes, jittered by --jitter in size and position, mirrored at random), then reports verification
  accuracy on the held-out identities (with exact and with 10%-jittered boxes). Writes DIR/config.json,
  DIR/model.safetensors, DIR/loss.png, DIR/train.json; re-running after a kill resumes from
  DIR/checkpoints/.`;

async function generate(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      output: { type: 'string', short: 'o' },
      identities: { type: 'string' },
      'clips-per-identity': { type: 'string' },
      frames: { type: 'string' },
      seed: { type: 'string', default: '0' },
      size: { type: 'string', default: '128' },
      stride: { type: 'string', default: '3' },
      'held-out-identities': { type: 'string', default: '0.2' },
      'held-out-motion-clips': { type: 'string', default: '0.25' },
      motion: { type: 'string', default: '../shared/data/motion' },
      sheet: { type: 'string' },
    },
  });
  if (!values.output || !values.identities || !values['clips-per-identity'] || !values.frames) {
    throw new Error(`-o, --identities, --clips-per-identity and --frames are required\nusage: ${SYNTH_USAGE}`);
  }
  const progress = progressReporter('synth');
  const labels = await writeSynthDataset({
    root: values.output,
    identities: num('identities', values.identities, true),
    clipsPerIdentity: num('clips-per-identity', values['clips-per-identity'], true),
    frames: num('frames', values.frames, true),
    seed: num('seed', values.seed, true),
    size: num('size', values.size, true),
    stride: num('stride', values.stride, true),
    heldOutIdentities: num('held-out-identities', values['held-out-identities'], false),
    heldOutMotionClips: num('held-out-motion-clips', values['held-out-motion-clips'], false),
    motionDir: values.motion,
    onProgress: progress,
  });
  progress.done();
  const data = await readSynthDataset(values.output);
  const sheet = await contactSheet(data);
  await writeImage(join(values.output, 'identities.png'), sheet);
  if (values.sheet) await writeImage(values.sheet, sheet);
  // One clip per source (and the first held-out one) as strips: frames, then pose and mask over them.
  const shown = [...new Set([...['bvh', 'dwpose'].flatMap((s) => data.clips.filter((c) => c.source === s).slice(0, 2)), ...data.clips.slice(0, 1)].map((c) => c.clip))].slice(0, 4);
  await writeImage(join(values.output, 'clips.png'), await clipSheet(data, shown));
  console.log(`wrote ${labels.length} clips to ${values.output}`);
  return 0;
}

async function trainFaceIdCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string' },
      output: { type: 'string', short: 'o' },
      steps: { type: 'string', default: String(F.steps) },
      batch: { type: 'string', default: String(F.batch) },
      lr: { type: 'string', default: String(F.lr) },
      warmup: { type: 'string', default: String(F.warmup) },
      seed: { type: 'string', default: String(F.seed) },
      scale: { type: 'string', default: String(F.scale) },
      margin: { type: 'string', default: String(F.margin) },
      jitter: { type: 'string', default: String(F.jitter) },
      side: { type: 'string', default: String(F.side) },
      threads: { type: 'string', default: String(F.threads) },
      'checkpoint-every': { type: 'string', default: '100' },
      'no-resume': { type: 'boolean' },
    },
  });
  if (!values.data || !values.output) throw new Error(`--data and -o are required\nusage: ${FACEID_USAGE}`);
  torch.setNumThreads(Math.max(1, num('threads', values.threads, true)));
  const side = num('side', values.side, true);
  if (side % 16 !== 0 || side === 0) throw new Error(`--side must be a positive multiple of 16 (the iResNet halves it 4 times), got ${side}`);
  const result = await trainFaceId({
    outDir: values.output,
    data: await readSynthDataset(values.data),
    config: { input_size: side },
    steps: num('steps', values.steps, true),
    batchSize: num('batch', values.batch, true),
    lr: num('lr', values.lr, false),
    warmupSteps: num('warmup', values.warmup, true),
    seed: num('seed', values.seed, true),
    arcface: { scale: num('scale', values.scale, false), margin: num('margin', values.margin, false) },
    jitter: num('jitter', values.jitter, false),
    checkpointEvery: Math.max(1, num('checkpoint-every', values['checkpoint-every'], true)),
    resume: !values['no-resume'],
    log: (line) => console.log(line),
  });
  const v = result.verification;
  console.log(`at step ${result.step} after ${(result.seconds / 60).toFixed(1)} min in this run` +
    (v ? `: held-out verification accuracy ${(100 * v.testAccuracy).toFixed(1)}% (threshold ${v.threshold.toFixed(3)} from val)` : '') + `; weights in ${values.output}`);
  return 0;
}

export const synth: Command = {
  summary: 'write the synthetic figure dataset; train the miniature face-ID network on it',
  usage: `${SYNTH_USAGE}\n\n${FACEID_USAGE}`,
  run: (args) => (args[0] === 'train-faceid' ? trainFaceIdCommand(args.slice(1)) : generate(args)),
};

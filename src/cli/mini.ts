// `stable-animator mini train`: the miniature StableAnimator++ recipe (src/train/mini/recipe.ts), every stage
// resumable: re-run the same command after a kill and it continues where it stopped.
import { parseArgs } from 'node:util';
import { MINI_RECIPE_DEFAULTS, runMiniRecipe } from '../train/mini/recipe.ts';
import { num } from './align-train.ts';
import type { Command } from './main.ts';
import { progressBar } from './progress-bar.ts';

const D = MINI_RECIPE_DEFAULTS;
const USAGE = `stable-animator mini train [--work runs/mini] [-o weights/mini] [--identities ${D.identities}]
                     [--clips-per-identity ${D.clipsPerIdentity}] [--frames ${D.frames}] [--seed ${D.seed}]
                     [--vae-steps ${D.steps.vae}] [--encoder-steps ${D.steps.imageEncoder}] [--animator-steps ${D.steps.animator}]
                     [--motion ../shared/data/motion] [--face-id weights/faceid]

  Trains the miniature StableAnimator++ on synthetic figures driven by real motion: writes the dataset
  (--work/data), trains the temporal VAE, the image encoder that stands in for CLIP, then the UNet with
  ID-Adapters, PoseNet and the Face Encoder from scratch, and exports a weights folder in the released
  layout (-o) that \`animate --weights\` and \`demo\` load. The face-ID network (--face-id) and the alignment
  block (weights/align) are trained by their own commands. Every stage resumes after a kill.`;

export const mini: Command = {
  summary: 'train the miniature StableAnimator++ (synthetic data, VAE, image encoder, UNet/PoseNet/Face Encoder)',
  usage: USAGE,
  async run(args) {
    if (args[0] !== 'train') throw new Error(`expected 'mini train'\nusage: ${USAGE}`);
    const { values } = parseArgs({
      args: args.slice(1),
      options: {
        work: { type: 'string', default: 'runs/mini' },
        output: { type: 'string', short: 'o', default: 'weights/mini' },
        identities: { type: 'string', default: String(D.identities) },
        'clips-per-identity': { type: 'string', default: String(D.clipsPerIdentity) },
        frames: { type: 'string', default: String(D.frames) },
        seed: { type: 'string', default: String(D.seed) },
        'vae-steps': { type: 'string', default: String(D.steps.vae) },
        'encoder-steps': { type: 'string', default: String(D.steps.imageEncoder) },
        'animator-steps': { type: 'string', default: String(D.steps.animator) },
        motion: { type: 'string', default: '../shared/data/motion' },
        'face-id': { type: 'string', default: 'weights/faceid' },
      },
    });
    const bar = progressBar('data', { intervalSeconds: 10 });
    await runMiniRecipe({
      work: values.work!, out: values.output!, motionDir: values.motion, faceIdDir: values['face-id'],
      identities: num('identities', values.identities, true), clipsPerIdentity: num('clips-per-identity', values['clips-per-identity'], true),
      frames: num('frames', values.frames, true), seed: num('seed', values.seed, true),
      steps: { vae: num('vae-steps', values['vae-steps'], true), imageEncoder: num('encoder-steps', values['encoder-steps'], true), animator: num('animator-steps', values['animator-steps'], true) },
      onProgress: (_stage, done, total) => bar.update(done, total),
    });
    bar.finish();
    return 0;
  },
};

// `stable-animator mini train`: the miniature StableAnimator++ recipe (src/train/mini/recipe.ts), every stage
// resumable: re-run the same command after a kill and it continues where it stopped.
import { parseArgs } from 'node:util';
import { MINI_RECIPE_DEFAULTS, runMiniRecipe } from '../mini/recipe.ts';
import { num } from './args.ts';
import type { Command } from './main.ts';
import { progressBar } from './progress-bar.ts';

const D = MINI_RECIPE_DEFAULTS;
const USAGE = `stable-animator mini train [--work runs/mini] [-o weights/mini] [--identities ${D.identities}]
                     [--clips-per-identity ${D.clipsPerIdentity}] [--frames ${D.frames}] [--seed ${D.seed}]
                     [--vae-steps ${D.steps.vae}] [--decoder-steps ${D.steps.vaeDecoder}] [--encoder-steps ${D.steps.imageEncoder}]
                     [--image-steps ${D.steps.animatorImage}] [--image-batch ${D.imageBatch}] [--animator-steps ${D.steps.animator}]
                     [--nproc ${D.nproc}] [--validate-every ${D.validateEvery}]
                     [--motion ../shared/data/motion] [--face-id weights/faceid]

  Trains the miniature StableAnimator++ on synthetic figures driven by real motion: writes the dataset
  (--work/data), trains the temporal VAE, the image encoder that stands in for CLIP, then the UNet with
  ID-Adapters, PoseNet and the Face Encoder from scratch, and exports a weights folder in the released
  layout (-o) that \`animate --weights\` and \`demo\` load. The face-ID network (--face-id) and the alignment
  block (weights/align) are trained by their own commands. Every stage resumes after a kill.
  --decoder-steps   stage 2b: the VAE's decoder refined with its encoder frozen (0: skip)
  --image-steps     phase 4a: steps on single frames, --image-batch per process (0: skip)
  --animator-steps  phase 4b: steps on clips, from 4a's weights
  --nproc           data-parallel processes of stage 4, one thread each (2 on a 2-core machine)
  --validate-every  held-out validation (PSNR in the moving region vs repeating the reference) every N steps; 0: off`;

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
        'decoder-steps': { type: 'string', default: String(D.steps.vaeDecoder) },
        'encoder-steps': { type: 'string', default: String(D.steps.imageEncoder) },
        'animator-steps': { type: 'string', default: String(D.steps.animator) },
        'image-steps': { type: 'string', default: String(D.steps.animatorImage) },
        'image-batch': { type: 'string', default: String(D.imageBatch) },
        nproc: { type: 'string', default: String(D.nproc) },
        'validate-every': { type: 'string', default: String(D.validateEvery) },
        motion: { type: 'string', default: '../shared/data/motion' },
        'face-id': { type: 'string', default: 'weights/faceid' },
      },
    });
    const bar = progressBar('data', { intervalSeconds: 10 });
    await runMiniRecipe({
      work: values.work!, out: values.output!, motionDir: values.motion, faceIdDir: values['face-id'],
      identities: num('identities', values.identities, true), clipsPerIdentity: num('clips-per-identity', values['clips-per-identity'], true),
      frames: num('frames', values.frames, true), seed: num('seed', values.seed, true),
      steps: {
        vae: num('vae-steps', values['vae-steps'], true), vaeDecoder: num('decoder-steps', values['decoder-steps'], true), imageEncoder: num('encoder-steps', values['encoder-steps'], true),
        animatorImage: num('image-steps', values['image-steps'], true), animator: num('animator-steps', values['animator-steps'], true),
      },
      imageBatch: num('image-batch', values['image-batch'], true), nproc: num('nproc', values.nproc, true), launchArgs: ['mini', ...args],
      validation: num('validate-every', values['validate-every'], true) > 0 ? { every: num('validate-every', values['validate-every'], true) } : undefined,
      onProgress: (_stage, done, total) => bar.update(done, total),
    });
    bar.finish();
    return 0;
  },
};

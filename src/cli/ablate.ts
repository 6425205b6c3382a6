// `stable-animator ablate`: the paper's Table II in miniature (src/demo/ablation.ts). Trains the four model
// variants (resumable), evaluates the seven rows on held-out cases, and writes a report folder: ablation.md
// (the table), ablation.json (every score) and ablation.png (the first case's frames, one column per row).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as torch from '../torch/index.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { ABLATION_ROWS, evaluateAblation, trainVariants, TRAINED_VARIANTS, writeComparisonSheet, type AblationOptions, type TrainedVariantName } from '../mini/ablation.ts';
import { DEMO_DEFAULTS } from '../mini/demo-settings.ts';
import { SVD_DIR } from '../models/weights-layout.ts';
import { readModelConfig } from '../models/svd/pretrained.ts';
import { MINI_RECIPE_DEFAULTS, readMiniatureInfo } from '../mini/recipe.ts';
import { DEFAULT_ALIGN_WEIGHTS } from '../align/learned-alignment.ts';
import { parseNumber } from './args.ts';
import type { Command } from './main.ts';

const D = { miniWork: 'runs/mini', work: 'runs/ablate', steps: MINI_RECIPE_DEFAULTS.steps.animator, imageSteps: MINI_RECIPE_DEFAULTS.steps.animatorImage, cases: 4, frames: 8, inferenceSteps: 15, motionDir: '../shared/data/motion' };
const USAGE = `stable-animator ablate [--mini-work ${D.miniWork}] [--weights ${DEMO_DEFAULTS.weights}] [--work ${D.work}] [--report DIR]
      [--image-steps ${D.imageSteps}] [--steps ${D.steps}] [--cases ${D.cases}] [--frames ${D.frames}] [--inference-steps ${D.inferenceSteps}] [--guidance ${DEMO_DEFAULTS.guidance}]
      [--motion-dir ${D.motionDir}] [--variants ${Object.keys(TRAINED_VARIANTS).join(',')}] [--train-only] [--rows NAME,...] [--threads N]

  --mini-work   the miniature recipe's working folder (its data, VAE and image encoder are reused)
  --image-steps, --steps   each of the four animator variants trains as the recipe's stage 4 at one budget:
                this many single-frame steps (phase 4a), then clip steps (phase 4b)
  --variants    train only these (e.g. two processes, one per core, each training two); --train-only skips the evaluation
  --rows        train the variants of, evaluate and report only these rows: ${ABLATION_ROWS.map((a) => a.name).join(', ')}
  --report      default <work>/report: ablation.md, ablation.json, ablation.png`;

export const ablate: Command = {
  summary: "the paper's ablations (Table II) in miniature: train the variants, score them on held-out cases",
  usage: USAGE,
  async run(args) {
    const { values } = parseArgs({
      args, options: {
        'mini-work': { type: 'string', default: D.miniWork }, weights: { type: 'string', default: DEMO_DEFAULTS.weights },
        work: { type: 'string', default: D.work }, report: { type: 'string' }, steps: { type: 'string', default: String(D.steps) },
        'image-steps': { type: 'string', default: String(D.imageSteps) },
        cases: { type: 'string', default: String(D.cases) }, frames: { type: 'string', default: String(D.frames) },
        'inference-steps': { type: 'string', default: String(D.inferenceSteps) }, guidance: { type: 'string', default: String(DEMO_DEFAULTS.guidance) },
        'motion-dir': { type: 'string', default: D.motionDir }, variants: { type: 'string' }, rows: { type: 'string' }, 'train-only': { type: 'boolean', default: false },
        threads: { type: 'string' },
      },
    });
    const int = (name: 'steps' | 'cases' | 'frames' | 'inference-steps' | 'threads') => parseNumber(name, values[name], 'posint');
    const guidance = Number(values.guidance);
    if (!Number.isFinite(guidance) || guidance < 1) throw new Error(`--guidance must be a number >= 1, got '${values.guidance}'`);
    const variants = values.variants?.split(',').map((v) => v.trim()) as TrainedVariantName[] | undefined;
    const unknown = variants?.find((v) => !(v in TRAINED_VARIANTS));
    if (unknown) throw new Error(`--variants: unknown variant '${unknown}' (known: ${Object.keys(TRAINED_VARIANTS).join(', ')})`);
    const rows = values.rows?.split(',').map((r) => r.trim());
    const badRow = rows?.find((r) => !ABLATION_ROWS.some((a) => a.name === r));
    if (badRow) throw new Error(`--rows: unknown row '${badRow}' (known: ${ABLATION_ROWS.map((a) => a.name).join(', ')})`);
    if (values.threads !== undefined) torch.setNumThreads(int('threads'));
    const { _class_name: _, ...unetConfig } = readModelConfig(join(values.weights!, SVD_DIR, 'unet'), 'UNetSpatioTemporalConditionModel');
    const o: AblationOptions = {
      miniWork: values['mini-work']!, info: readMiniatureInfo(values.weights!), work: values.work!, steps: int('steps'), imageSteps: parseNumber('image-steps', values['image-steps'], 'count'), cases: int('cases'),
      frames: int('frames'), inferenceSteps: int('inference-steps'), guidance, motionDir: values['motion-dir']!, faceIdDir: 'weights/faceid',
      alignDir: DEFAULT_ALIGN_WEIGHTS, rows, unetConfig, log: (l) => console.error(l),
      // with --rows, only the variants those rows use are trained
      variants: variants ?? (rows && [...new Set(ABLATION_ROWS.filter((a) => rows.includes(a.name)).map((a) => a.model))]),
    };
    await trainVariants(o);
    if (values['train-only']) return 0;
    const result = await evaluateAblation(o);
    const report = values.report ?? join(o.work, 'report');
    const fmt = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
    const table = [
      '| variant | L1 ↓ | PSNR ↑ | SSIM ↑ | moving PSNR ↑ | CSIM ↑ | Dis ↓ |',
      '|---|---|---|---|---|---|---|',
      ...result.rows.map(({ row, mean: m }) => `| ${row.label} | ${fmt(m.l1, 4)} | ${fmt(m.psnr, 2)} | ${fmt(m.ssim, 3)} | ${fmt(m.movingPsnr, 2)} | ${fmt(m.csim, 3)} | ${fmt(m.dis, 4)} |`),
      ...(result.rows.length ? [(({ baseline: b }) => `| repeating the reference (baseline) | ${fmt(b.l1, 4)} | ${fmt(b.psnr, 2)} | ${fmt(b.ssim, 3)} | ${fmt(b.movingPsnr, 2)} | | |`)(result.rows[0]!.mean)] : []),
    ].join('\n');
    const setup = `${o.imageSteps ?? 0} single-frame and ${o.steps} clip training steps per variant; ${o.cases} held-out cases (${result.cases.join(', ')}), ${o.frames} frames each, ` +
      `${o.inferenceSteps} Euler steps, guidance ${guidance}, HJB on steps 0..${Math.max(0, o.inferenceSteps - 5)} where on.`;
    await writeFileAtomic(join(report, 'ablation.md'), `${table}\n\n${setup}\n`);
    await writeFileAtomic(join(report, 'ablation.json'), `${JSON.stringify({
      setup: { steps: o.steps, cases: result.cases, frames: o.frames, inferenceSteps: o.inferenceSteps, guidance },
      rows: result.rows.map(({ row, mean, perCase }) => ({ ...row, mean, perCase })),
    }, null, 1)}\n`);
    await writeComparisonSheet(join(report, 'ablation.png'), result);
    console.log(`${table}\n\n${setup}\nwrote ${report}/ablation.{md,json,png}`);
    return 0;
  },
};

// `stable-animator demo`: the shipped miniature (weights/mini) animates a held-out synthetic figure with a
// held-out real motion (assets/motion) that was scaled, shifted and rotated, after the learned alignment
// (weights/align) puts the poses back on the reference's body, with HJB face optimisation on. Writes
// demo/out.mp4, demo/side-by-side.mp4 (reference | driving pose | aligned pose | output | ground truth),
// demo/frames.png and demo/index.html with the scores against the ground truth.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import * as torch from '../torch/index.ts';
import { writeImage } from '../io/image.ts';
import { writeHtmlReport } from '../io/html-report.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { sideBySide, stackRows, type Panel } from '../io/side-by-side.ts';
import { isAlignMethod, ALIGN_METHODS, type AlignMethod } from '../align/align-frames.ts';
import { DEFAULT_ALIGN_WEIGHTS, LearnedAlignment } from '../align/learned-alignment.ts';
import { loadComponents, resolveWeightPaths } from '../pipeline/components.ts';
import { writeFrames } from '../pipeline/outputs.ts';
import { runIdentities } from '../mini/synth/dataset.ts';
import { loadMotionFile } from '../mini/synth/motion.ts';
import { readMiniatureInfo } from '../mini/recipe.ts';
import { formatDuration } from '../util/format.ts';
import { animateCase, caseDis, type CaseResult } from '../mini/animate-case.ts';
import { heldOutCase, type HeldOutCase } from '../mini/held-out-case.ts';
import { DEMO_DEFAULTS, demoHjb } from '../mini/demo-settings.ts';
import type { Command } from './main.ts';
import { progressBar } from './progress-bar.ts';

const D = DEMO_DEFAULTS;
const USAGE = `stable-animator demo [--weights ${D.weights}] [--out ${D.out}] [--identity ID] [--motion ${D.motion}]
      [--frames ${D.frames}] [--steps ${D.steps}] [--guidance ${D.guidance}] [--seed ${D.seed}] [--align learned|svd|polyfit|none]
      [--no-hjb] [--threads 2]

  --identity   a held-out identity of the miniature's data (weights/mini/miniature.json); default the first
  --motion     a .bvh or keypoint .json; the shipped ad_dab.bvh was held out of the miniature's training`;

export const demo: Command = {
  summary: 'animate a held-out figure with a misaligned held-out motion using the shipped miniature (a few minutes)',
  usage: USAGE,
  async run(args) {
    const { values } = parseArgs({
      args, options: {
        weights: { type: 'string', default: D.weights }, out: { type: 'string', default: D.out }, identity: { type: 'string' },
        motion: { type: 'string', default: D.motion }, frames: { type: 'string', default: String(D.frames) },
        steps: { type: 'string', default: String(D.steps) }, guidance: { type: 'string', default: String(D.guidance) },
        seed: { type: 'string', default: String(D.seed) }, align: { type: 'string', default: 'learned' },
        'no-hjb': { type: 'boolean', default: false }, threads: { type: 'string' },
      },
    });
    const int = (name: 'frames' | 'steps' | 'seed' | 'threads', min: number) => {
      const v = Number(values[name]);
      if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}, got '${values[name]}'`);
      return v;
    };
    const guidance = Number(values.guidance);
    if (!Number.isFinite(guidance) || guidance < 1) throw new Error(`--guidance must be a number >= 1, got '${values.guidance}'`);
    if (!isAlignMethod(values.align!)) throw new Error(`--align must be one of ${ALIGN_METHODS.join(', ')}, got '${values.align}'`);
    const align: AlignMethod = values.align;
    // two libtorch threads by default (one per core here): 1 min 53-57 s against 2 min 42 s for one on the 2-core
    // VM, once libgomp's idle workers stopped spinning against OpenBLAS's (src/torch/native.ts); more than two
    // were not measured
    torch.setNumThreads(values.threads !== undefined ? int('threads', 1) : Math.min(2, availableParallelism()));
    const [frames, steps, seed] = [int('frames', 1), int('steps', 1), int('seed', 0)];
    const t0 = performance.now();

    const info = readMiniatureInfo(values.weights!);
    const identityName = values.identity ?? info.heldOutIdentities[0];
    const identity = runIdentities(info.seed, info.identities).find((i) => i.id === identityName);
    if (!identity) throw new Error(`--identity ${identityName}: not one of the miniature's ${info.identities} identities (id0000..)`);
    const motion = await loadMotionFile(values.motion!);
    if (!info.heldOutMotions.includes(motion.name)) console.error(`note: the motion ${motion.name} is not one of the held-out motions (${info.heldOutMotions.join(', ')})`);

    const c = heldOutCase({ identity, motion, frames, size: info.size, seed });
    const p = c.perturbation;
    const heldOut = info.heldOutIdentities.includes(identity.id) ? ' (held out)' : ' (a training identity)';
    console.error(`reference: ${identity.id}${heldOut}; motion: ${motion.name}, ${frames} frames; driving poses misaligned by ` +
      `rotation ${p.rotationDeg.toFixed(1)} deg, scale ${p.scale.toFixed(2)}, shift (${p.shift.map((v) => v.toFixed(2)).join(', ')})`);
    const alignModel = align === 'learned' ? LearnedAlignment.fromPretrained(DEFAULT_ALIGN_WEIGHTS) : undefined;
    const components = loadComponents(resolveWeightPaths(values.weights, {}, { hjb: true }), { arcface: true });
    const hjb = values['no-hjb'] ? undefined : demoHjb(steps);
    const bar = progressBar('animate');
    const result = await animateCase(c, components, {
      align, alignModel, hjb, steps, guidance, seed, tileSize: info.frames, tileOverlap: D.tileOverlap, skeleton: info.skeleton,
      onProgress: (s) => {
        if (s.phase === 'denoise') bar.update(s.step, s.total, s.hjb ? `face loss ${s.hjb.losses[0]!.toFixed(3)} -> ${s.hjb.losses.at(-1)!.toFixed(3)}` : undefined);
      },
    });
    bar.finish(`animated ${frames} frames at ${info.size}x${info.size} in ${result.seconds.toFixed(1)} s`);

    await writeDemo(values.out!, c, result, { identity: identity.id, motion: motion.name, align, hjb: !!hjb, steps, guidance, seed });
    const m = result.metrics;
    const b = m.baseline;
    console.log(`L1 ${m.l1.toFixed(4)}  PSNR ${m.psnr.toFixed(2)}  SSIM ${m.ssim.toFixed(3)}  CSIM ${m.csim.toFixed(3)}  ` +
      `Dis ${m.dis.toFixed(4)} (misaligned: ${caseDis(c, c.driving).toFixed(4)})`);
    console.log(`moving region (${(100 * m.movingFraction).toFixed(1)}% of the pixels): PSNR ${m.movingPsnr.toFixed(2)}; repeating the reference: ` +
      `L1 ${b.l1.toFixed(4)}  PSNR ${b.psnr.toFixed(2)}  SSIM ${b.ssim.toFixed(3)}  moving PSNR ${b.movingPsnr.toFixed(2)}`);
    console.log(`wrote ${join(values.out!, 'out.mp4')}, side-by-side.mp4, frames.png, index.html in ${formatDuration((performance.now() - t0) / 1000)}`);
    return 0;
  },
};

async function writeDemo(out: string, c: HeldOutCase, r: CaseResult, s: { identity: string; motion: string; align: AlignMethod; hjb: boolean; steps: number; guidance: number; seed: number }): Promise<void> {
  mkdirSync(out, { recursive: true });
  const panels: Panel[] = [
    { label: 'reference', frames: [c.reference] },
    { label: 'driving pose', frames: r.drivingSkeletons },
    { label: 'aligned pose', frames: r.alignedSkeletons },
    { label: 'output', frames: r.output },
    { label: 'ground truth', frames: c.truth },
  ];
  const combined = sideBySide(panels, { height: 256 });
  await writeFrames(join(out, 'out.mp4'), r.output, { fps: c.fps });
  await writeFrames(join(out, 'side-by-side.mp4'), combined, { fps: c.fps });
  const every = Math.max(1, Math.floor(combined.length / 4));
  await writeImage(join(out, 'frames.png'), stackRows(combined.filter((_, i) => i % every === 0).slice(0, 4)));
  const m = r.metrics;
  const misaligned = caseDis(c, c.driving);
  await writeFileAtomic(join(out, 'metrics.json'), `${JSON.stringify({
    format: 'stable-animator-demo/1', ...s, frames: c.truth.length, size: c.size, seconds: r.seconds, ...m, disMisaligned: misaligned,
  }, null, 2)}\n`);
  await writeHtmlReport(join(out, 'index.html'), 'stable-animator demo: the miniature StableAnimator++', [
    { kind: 'text', text: `Reference: held-out identity ${s.identity}. Driving: held-out motion ${s.motion} (${c.truth.length} frames), ` +
      `misaligned by rotation ${c.perturbation.rotationDeg.toFixed(1)} deg, scale ${c.perturbation.scale.toFixed(2)}, shift ` +
      `(${c.perturbation.shift.map((v) => v.toFixed(2)).join(', ')}) of the frame. Alignment: ${s.align}; HJB: ${s.hjb ? 'on' : 'off'}; ` +
      `${s.steps} Euler steps, guidance ${s.guidance}, seed ${s.seed}. Took ${r.seconds.toFixed(1)} s.` },
    { kind: 'video', src: 'side-by-side.mp4', caption: 'reference | driving pose | aligned pose | output | ground truth' },
    { kind: 'images', items: [{ src: 'frames.png', caption: 'every few frames: reference | driving pose | aligned pose | output | ground truth' }] },
    { kind: 'heading', text: 'Scores against the ground truth' },
    {
      kind: 'table', columns: ['', 'L1 ↓', 'PSNR ↑', 'SSIM ↑', 'moving PSNR ↑', 'CSIM ↑', 'Dis ↓'],
      rows: [
        ['output', m.l1, m.psnr, m.ssim, m.movingPsnr, m.csim, m.dis],
        ['repeating the reference', m.baseline.l1, m.baseline.psnr, m.baseline.ssim, m.baseline.movingPsnr, '', ''],
        ['driving poses unaligned', '', '', '', '', '', misaligned],
      ],
    },
    { kind: 'text', text: `Moving PSNR: PSNR over the ${(100 * m.movingFraction).toFixed(1)}% of the pixels where the ground truth differs from the reference ` +
      'by more than 40/255 in some channel: where the person moved. Repeating the reference photo on every frame is the baseline an animation has to beat. ' +
      'CSIM: cosine of the face-ID embeddings of the reference face and the output face (cropped where the ground truth has it). ' +
      'Dis: mean body-keypoint distance of the poses to the ground truth, in frame units. The miniature is a 128x128 model trained in under 2 hours ' +
      'on a 2-core CPU (docs/mini.md); it shows the system working end to end, not the quality of the released model.' },
    { kind: 'video', src: 'out.mp4', caption: 'output' },
  ]);
}

// Validation of the miniature while it trains (issue 15): what the demo measures, on other cases. Held-out
// identities perform held-out motions, misaligned by a MisAlign similarity and put back by the learned
// alignment; a short sampling (few Euler steps, no HJB) is scored against the ground truth beside the
// repeat-the-reference baseline. The demo's own identity (the first held out) is left out, so the demo stays
// an evaluation that training never looked at.
import { LearnedAlignment } from '../align/learned-alignment.ts';
import * as torch from '../torch/index.ts';
import type { AutoencoderKLTemporalDecoder } from '../models/svd/autoencoder.ts';
import type { StableAnimatorComponents } from '../pipeline/animate.ts';
import { framesToTensor } from '../eval/evaluate.ts';
import { scoreWithBaseline, type FrameScores } from '../eval/reference-baseline.ts';
import type { SkeletonStyle } from '../pose/render.ts';
import { runIdentities } from './synth/dataset.ts';
import { loadMotions } from './synth/motion.ts';
import { animateCase, meanCaseMetrics, type CaseMetrics } from './animate-case.ts';
import { heldOutCase, type HeldOutCase } from './held-out-case.ts';
import type { ValidationHook } from '../train/animator/trainer.ts';
import { DEMO_DEFAULTS } from './demo-settings.ts';

export interface MiniValidationOptions {
  /** The dataset's seed and identity count and its held-out split (as miniature.json). */
  seed: number;
  identities: number;
  heldOutIdentities: readonly string[];
  heldOutMotions: readonly string[];
  motionDir: string;
  size: number;
  skeleton: SkeletonStyle;
  /** Frames per window (the clip length). */
  window: number;
  /** Cases (default 3), frames per case (default 8), Euler steps (default 10), guidance (default: the demo's). */
  cases?: number;
  frames?: number;
  steps?: number;
  guidance?: number;
  alignWeights: string;
}

/** The validation cases: held-out identities 2, 3, ... each with the next held-out motion. */
export async function miniValidationCases(o: MiniValidationOptions): Promise<HeldOutCase[]> {
  const identities = runIdentities(o.seed, o.identities);
  const motions = (await loadMotions(o.motionDir)).filter((m) => o.heldOutMotions.includes(m.name));
  if (motions.length === 0) throw new Error(`${o.motionDir}: none of the held-out motions (${o.heldOutMotions.join(', ')}) is there`);
  // the demo's identity (the first) only when it is the only one held out (toy datasets)
  const pool = o.heldOutIdentities.length > 1 ? o.heldOutIdentities.slice(1) : o.heldOutIdentities;
  const n = Math.min(o.cases ?? 3, pool.length);
  return Array.from({ length: n }, (_, i) => {
    const identity = identities.find((id) => id.id === pool[i])!;
    return heldOutCase({ identity, motion: motions[i % motions.length]!, frames: o.frames ?? 8, size: o.size, seed: 1000 + i });
  });
}

/**
 * What the VAE alone allows on the cases: their ground-truth frames through encode -> decode (posterior mode),
 * scored as an animation would be. No animation decoded by this VAE can beat it, so the validation plots it
 * beside ours and the baseline (issue 15: the VAE's ceiling).
 */
export function vaeCeiling(vae: AutoencoderKLTemporalDecoder, cases: readonly HeldOutCase[]): FrameScores {
  const acc = { l1: 0, psnr: 0, ssim: 0, movingPsnr: 0 };
  for (const c of cases) {
    const s = torch.noGrad(() => torch.scope(() => {
      const truth = framesToTensor(c.truth);
      const dtype = vae.decoder.conv_in.weight.dtype;
      const rec = vae.decode(vae.encode(truth.mul(2).sub(1).to(dtype)).mode(), truth.size(0)).to('f32').div(2).add(0.5).clamp(0, 1);
      return scoreWithBaseline(rec, truth, framesToTensor([c.reference]));
    }));
    for (const k of ['l1', 'psnr', 'ssim', 'movingPsnr'] as const) acc[k] += s[k] / cases.length;
  }
  return acc;
}

/** A trainer validation hook over the cases: means of the scores and of their baselines, and the VAE's ceiling. */
export async function miniValidation(components: StableAnimatorComponents, o: MiniValidationOptions): Promise<ValidationHook> {
  const cases = await miniValidationCases(o);
  const alignModel = LearnedAlignment.fromPretrained(o.alignWeights);
  const ceiling = vaeCeiling(components.vae, cases);
  return async () => {
    const perCase: CaseMetrics[] = [];
    for (const c of cases) {
      const r = await animateCase(c, components, {
        align: 'learned', alignModel, steps: o.steps ?? 10, guidance: o.guidance ?? DEMO_DEFAULTS.guidance, seed: 0,
        tileSize: o.window, tileOverlap: Math.min(2, o.window - 1), skeleton: o.skeleton,
      });
      perCase.push(r.metrics);
    }
    const m = meanCaseMetrics(perCase);
    return {
      scores: {
        movingPsnr: m.movingPsnr, baselineMovingPsnr: m.baseline.movingPsnr, vaeMovingPsnr: ceiling.movingPsnr,
        psnr: m.psnr, baselinePsnr: m.baseline.psnr, vaePsnr: ceiling.psnr, ssim: m.ssim, baselineSsim: m.baseline.ssim, csim: m.csim,
      },
      panels: [
        {
          title: `held-out validation (${cases.length} cases): PSNR, ours vs repeating the reference vs the VAE's own reconstruction`, yLabel: 'dB',
          keys: ['movingPsnr', 'baselineMovingPsnr', 'vaeMovingPsnr', 'psnr', 'baselinePsnr', 'vaePsnr'],
        },
        { title: 'SSIM and CSIM', yLabel: '', keys: ['ssim', 'baselineSsim', 'csim'] },
      ],
    };
  };
}

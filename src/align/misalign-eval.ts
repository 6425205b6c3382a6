// The MisAlign protocol (paper Sec. IV, Table III) on keypoint sequences: seeded (reference frame, driven clip)
// samples from each sequence, the driven clip perturbed by one random similarity (rotation, log-uniform scale,
// shift about the frame centre), then each alignment method maps the perturbed clip back onto the reference,
// and Dis (pose-distance.ts) measures the aligned clip against the unperturbed one.
//   none     the perturbed poses as they are
//   polyfit  StableAnimator's scale-and-offset rule, one fit per clip
//   svd      the closed-form similarity per frame (the paper's "w/o Prediction")
//   learned  the learnable block (when a model is given)

import type { AlignmentPair } from './alignment-features.ts';
import type { LearnedAlignment } from './learned-alignment.ts';
import { learnedTransforms } from './learned-transforms.ts';
import { polyfitAlign } from './polyfit.ts';
import { alignSequenceSvd } from './similarity-fit.ts';
import { applySimilarity } from '../pose/similarity.ts';
import type { PersonPose } from '../pose/keypoints.ts';
import { makeAlignmentSamples } from '../pose/motion-data.ts';
import type { NamedSequence, PerturbationRanges } from '../pose/motion-data.ts';
import { createRng } from '../util/rng.ts';
import { poolDistances, poseDistance } from '../eval/pose-distance.ts';
import type { PoseDistance } from '../eval/pose-distance.ts';

export const MISALIGN_METHODS = ['none', 'polyfit', 'svd', 'learned'] as const;
export type MisAlignMethod = (typeof MISALIGN_METHODS)[number];

export interface MisAlignOptions {
  seed?: number;
  /** Default 32. */
  samplesPerSequence?: number;
  /** Driven frames per sample; default 16. */
  clipLength?: number;
  ranges?: Partial<PerturbationRanges>;
  maxReferenceGap?: number;
  /** Evaluates 'learned' too when given. */
  model?: LearnedAlignment;
}

export interface MisAlignResult {
  /** Pooled Dis per method ('learned' only with a model). */
  dis: Partial<Record<MisAlignMethod, number>>;
  /** Per-frame Dis per method, in sample order (NaN where a frame has no visible keypoint). */
  perFrame: Partial<Record<MisAlignMethod, number[]>>;
  /** Pooled Dis per method and source ('bvh', 'dwpose'). */
  bySource: Record<string, Partial<Record<MisAlignMethod, number>>>;
  frames: number;
  clips: number;
  sequences: string[];
}

export function evaluateMisAlign(sequences: readonly NamedSequence[], options: MisAlignOptions = {}): MisAlignResult {
  if (sequences.length === 0) throw new Error('evaluateMisAlign: no sequences');
  const samples = makeAlignmentSamples(sequences, createRng(options.seed ?? 0), {
    samplesPerSequence: options.samplesPerSequence ?? 32,
    clipLength: options.clipLength ?? 16,
    ranges: options.ranges,
    maxReferenceGap: options.maxReferenceGap,
  });
  const sourceOf = new Map(sequences.map((s) => [s.name, s.source]));
  const methods: MisAlignMethod[] = options.model ? [...MISALIGN_METHODS] : ['none', 'polyfit', 'svd'];
  const aligned: Record<string, PersonPose[][]> = Object.fromEntries(methods.map((m) => [m, []]));
  const pairs: AlignmentPair[] = [];
  for (const s of samples) {
    aligned.none!.push(s.driven);
    const poly = polyfitAlign(s.reference, s.driven.map((p) => ({ persons: [p] })), { refSize: s.size });
    aligned.polyfit!.push(poly.frames.map((f) => f.persons[0]!));
    const svd = alignSequenceSvd(s.reference, s.driven, { refSize: s.size });
    aligned.svd!.push(svd.aligned);
    s.driven.forEach((p, i) => pairs.push({ reference: s.reference, driven: p, refSize: s.size, drivenSize: s.size, svd: svd.transforms[i]! }));
  }
  if (options.model) {
    const transforms = learnedTransforms(options.model, pairs);
    let k = 0;
    for (const s of samples) aligned.learned!.push(s.driven.map((p) => applySimilarity(p, transforms[k++]!)));
  }

  const result: MisAlignResult = {
    dis: {}, perFrame: {}, bySource: {}, frames: samples.reduce((n, s) => n + s.driven.length, 0), clips: samples.length,
    sequences: [...new Set(samples.map((s) => s.sequence))],
  };
  for (const m of methods) {
    const all: PoseDistance[] = [];
    const bySource = new Map<string, PoseDistance[]>();
    const perFrame: number[] = [];
    samples.forEach((s, i) => {
      const poses = aligned[m]![i]!;
      const d = poseDistance(poses, s.target);
      all.push(d);
      const src = sourceOf.get(s.sequence) ?? 'unknown';
      if (!bySource.has(src)) bySource.set(src, []);
      bySource.get(src)!.push(d);
      poses.forEach((p, f) => perFrame.push(poseDistance([p], [s.target[f]!]).mean));
    });
    result.dis[m] = poolDistances(all).mean;
    result.perFrame[m] = perFrame;
    for (const [src, ds] of bySource) (result.bySource[src] ??= {})[m] = poolDistances(ds).mean;
  }
  return result;
}

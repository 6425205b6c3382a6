// Aligning a whole driven sequence (several persons per frame allowed) to a reference frame, by any method:
//   'learned'  the learnable block (SVD fit + predicted correction), per matched person and frame
//   'svd'      the closed-form fit alone, per matched person and frame
//   'polyfit'  the StableAnimator/MimicMotion scale-and-offset rule, one fit for the video (first reference person)
//   'none'     normalised coordinates carried over unchanged
// For 'learned' and 'svd', each driven person is matched to a reference person (person-matching.ts) and the
// frames of each matched pair form one track, aligned to that reference person. A driven person without a
// match takes the transform of the nearest matched person of its frame, or, in a frame with none, of the
// nearest frame that has one, so every person moves with the scene rather than staying misaligned.
// The result is normalised by the reference frame's size.

import type { PersonPose, PoseFrame } from '../pose/keypoints.ts';
import { VISIBLE_THRESHOLD } from '../pose/keypoints.ts';
import { polyfitAffine, polyfitAlign } from './polyfit.ts';
import { alignSequenceSvd } from './similarity-fit.ts';
import { IDENTITY_AFFINE, applySimilarity } from '../pose/similarity.ts';
import type { Affine2D, FrameSize, Similarity } from '../pose/similarity.ts';
import { alignSequenceLearned } from './learned-transforms.ts';
import type { LearnedAlignment } from './learned-alignment.ts';
import { matchPersons, personExtent } from './person-matching.ts';

export const ALIGN_METHODS = ['learned', 'svd', 'polyfit', 'none'] as const;
export type AlignMethod = (typeof ALIGN_METHODS)[number];

export function isAlignMethod(v: string): v is AlignMethod {
  return (ALIGN_METHODS as readonly string[]).includes(v);
}

export interface AlignFramesOptions {
  method: AlignMethod;
  /** Required for 'learned'. */
  model?: LearnedAlignment;
  refSize: FrameSize;
  /** Default refSize. */
  drivenSize?: FrameSize;
  threshold?: number;
}

export interface AlignFramesResult {
  frames: PoseFrame[];
  /** Per frame, per driven person: the transform applied (driven -> reference), on normalised coordinates. */
  transforms: Affine2D[][];
}

/** One track's poses -> their transforms. */
type TrackAligner = (reference: PersonPose, driven: PersonPose[]) => Similarity[];

export function alignPoseFrames(reference: PoseFrame, driven: readonly PoseFrame[], options: AlignFramesOptions): AlignFramesResult {
  if (driven.length === 0) throw new Error('alignPoseFrames: the driven sequence is empty');
  const refSize = options.refSize;
  const drivenSize = options.drivenSize ?? refSize;
  const threshold = options.threshold ?? VISIBLE_THRESHOLD;
  const apply = (transforms: (Similarity | Affine2D)[][]): AlignFramesResult => ({
    frames: driven.map((f, i) => ({ persons: f.persons.map((p, j) => applySimilarity(p, transforms[i]![j]!)) })),
    transforms: transforms.map((row) => row.map((t) => ('matrix' in t ? t.matrix : t))),
  });

  if (options.method === 'none') {
    return apply(driven.map((f) => f.persons.map(() => IDENTITY_AFFINE)));
  }
  if (reference.persons.length === 0) throw new Error('alignPoseFrames: the reference frame has no person');
  if (options.method === 'polyfit') {
    const aspect = refSize[0] === drivenSize[0] && refSize[1] === drivenSize[1] ? 'stableanimator' : 'mimicmotion';
    const fit = polyfitAlign(reference.persons[0]!, driven, { refSize, drivenSize, aspect, threshold });
    const affine = polyfitAffine(fit.a, fit.b);
    return apply(driven.map((f) => f.persons.map(() => affine)));
  }

  let aligner: TrackAligner;
  if (options.method === 'svd') {
    aligner = (ref, drv) => alignSequenceSvd(ref, drv, { refSize, drivenSize, threshold }).transforms;
  } else {
    const model = options.model;
    if (!model) throw new Error("alignPoseFrames: method 'learned' needs a model");
    aligner = (ref, drv) => alignSequenceLearned(model, ref, drv, { refSize, drivenSize, threshold }).transforms;
  }

  // 1. Match persons per frame and gather one track per reference person.
  const tracks = new Map<number, { frame: number; person: number }[]>();
  const matchings = driven.map((frame, f) => {
    const m = matchPersons(reference.persons, frame.persons, refSize, drivenSize, threshold);
    for (const [r, d] of m.pairs) {
      if (!tracks.has(r)) tracks.set(r, []);
      tracks.get(r)!.push({ frame: f, person: d });
    }
    return m;
  });
  if (tracks.size === 0) {
    const refUsable = reference.persons.some((p) => personExtent(p, refSize, threshold));
    throw new Error(refUsable
      ? `alignPoseFrames: no driven frame has a person with at least two visible body keypoints (score >= ${threshold})`
      : `alignPoseFrames: the reference frame has no person with at least two visible body keypoints (score >= ${threshold})`);
  }

  // 2. Align each track to its reference person.
  const transforms: (Similarity | undefined)[][] = driven.map((f) => f.persons.map(() => undefined));
  for (const [r, items] of [...tracks].sort((a, b) => a[0] - b[0])) {
    const sims = aligner(reference.persons[r]!, items.map(({ frame, person }) => driven[frame]!.persons[person]!));
    items.forEach(({ frame, person }, i) => { transforms[frame]![person] = sims[i]; });
  }

  // 3. Unmatched persons: the nearest matched person of the frame, else of the nearest frame.
  const frameDefault = (f: number): Similarity | undefined => {
    const m = matchings[f]!;
    return m.pairs.length > 0 ? transforms[f]![m.pairs[0]![1]] : undefined;
  };
  const nearestFrameDefault = (f: number): Similarity => {
    for (let d = 1; d < driven.length; d++) {
      const s = frameDefault(f - d) ?? frameDefault(f + d);
      if (s) return s;
    }
    throw new Error('alignPoseFrames: internal error, no matched person anywhere'); // excluded by the tracks check
  };
  driven.forEach((frame, f) => {
    const m = matchings[f]!;
    for (const j of m.unmatched) {
      const own = personExtent(frame.persons[j]!, drivenSize, 0);
      let best: Similarity | undefined;
      let bestDist = Infinity;
      for (const [, d] of m.pairs) {
        const other = personExtent(frame.persons[d]!, drivenSize, threshold)!;
        const dist = own ? Math.hypot(own.centre[0] - other.centre[0], own.centre[1] - other.centre[1]) : 0;
        if (dist < bestDist) { bestDist = dist; best = transforms[f]![d]; }
      }
      transforms[f]![j] = best ?? nearestFrameDefault(f);
    }
  });
  return apply(transforms as Similarity[][]);
}

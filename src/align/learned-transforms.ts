// Inference with the learnable alignment block: from (reference, driven) person pairs to driven -> reference
// similarities, the SVD fit first (the block's guidance and the base its correction applies to), then the
// block's correction, batched over frames in chunks without gradients.

import * as torch from '../torch/index.ts';
import type { PersonPose } from '../pose/keypoints.ts';
import { applySimilarity } from '../pose/similarity.ts';
import type { FrameSize, Similarity } from '../pose/similarity.ts';
import { alignSequenceSvd } from './similarity-fit.ts';
import { batchToTensors, buildAlignmentBatch } from './alignment-features.ts';
import type { AlignmentPair } from './alignment-features.ts';
import type { LearnedAlignment } from './learned-alignment.ts';
import { composeCorrection } from './residual-similarity.ts';

export interface LearnedTransformOptions {
  /** Frames per forward pass; default 512. */
  chunkSize?: number;
  threshold?: number;
}

/** The block's full transform (SVD fit + predicted correction) for every pair. */
export function learnedTransforms(
  model: LearnedAlignment, pairs: readonly AlignmentPair[], options: LearnedTransformOptions = {},
): Similarity[] {
  const chunk = options.chunkSize ?? 512;
  const out: Similarity[] = [];
  for (let start = 0; start < pairs.length; start += chunk) {
    const part = pairs.slice(start, start + chunk);
    const batch = buildAlignmentBatch(part, { threshold: options.threshold });
    const params = torch.scope(() => torch.noGrad(() => model.forward(batchToTensors(batch)).to('f64').data() as Float64Array));
    part.forEach((pair, b) => {
      out.push(composeCorrection(pair.svd, params.subarray(4 * b, 4 * b + 4), batch.centres.subarray(2 * b, 2 * b + 2), pair.refSize, pair.drivenSize));
    });
  }
  return out;
}

export interface LearnedAlignOptions extends LearnedTransformOptions {
  refSize: FrameSize;
  /** Default refSize. */
  drivenSize?: FrameSize;
}

export interface LearnedAlignResult {
  aligned: PersonPose[];
  transforms: Similarity[];
  /** The SVD fits the corrections were applied to. */
  svd: Similarity[];
}

/**
 * Aligns one person's driven frames to a reference pose: per-frame SVD fit (a frame with fewer than two usable
 * points falls back to the fit over the whole sequence, as alignSequenceSvd does), then the block's correction.
 */
export function alignSequenceLearned(
  model: LearnedAlignment, reference: PersonPose, driven: readonly PersonPose[], options: LearnedAlignOptions,
): LearnedAlignResult {
  if (driven.length === 0) throw new Error('alignSequenceLearned: the driven sequence is empty');
  const drivenSize = options.drivenSize ?? options.refSize;
  const svd = alignSequenceSvd(reference, driven, { refSize: options.refSize, drivenSize, threshold: options.threshold }).transforms;
  const pairs = driven.map((p, i): AlignmentPair => ({ reference, driven: p, refSize: options.refSize, drivenSize, svd: svd[i]! }));
  const transforms = learnedTransforms(model, pairs, options);
  return { aligned: driven.map((p, i) => applySimilarity(p, transforms[i]!)), transforms, svd };
}

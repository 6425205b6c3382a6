// Data for training and validating the alignment block: the real motion sequences of ../shared/data/motion
// (BVH mocap projected through random cameras, DWPose dumps of real videos), split by whole sequence, and
// (reference, driven, ground truth) pairs drawn from them with the MisAlign perturbation.
//
// The training BVH sequences are projected several times with different camera seeds (more views of the same
// motions), and every training sequence is also used mirrored; validation sequences keep their one default
// projection, so their numbers match every other evaluation of the held-out split.

import { join } from 'node:path';
import type { AlignmentPair } from './alignment-features.ts';
import { DegenerateFitError, fitSimilarity } from './similarity-fit.ts';
import { applySimilarity } from '../pose/similarity.ts';
import { loadMotionSequences, makeAlignmentSamples, samplePerturbation, splitBySequence } from '../pose/motion-data.ts';
import type { NamedSequence, PerturbationRanges, SampleOptions } from '../pose/motion-data.ts';
import { NUM_FACE, NUM_HAND } from '../pose/keypoints.ts';
import type { Keypoint } from '../pose/keypoints.ts';
import type { Rng } from '../util/rng.ts';

/** OpenPose-18 ids under a left-right mirror: shoulders, elbows, wrists, hips, knees, ankles, eyes, ears swap. */
export const BODY_MIRROR: readonly number[] = [0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16];

/**
 * The sequence seen in a mirror (x -> 1 - x, left and right body points swapped): another plausible motion for
 * training. Only the body is kept (hands and face get score 0): the block aligns on body points.
 */
export function mirrorSequence(seq: NamedSequence): NamedSequence {
  const empty = (n: number): Keypoint[] => Array.from({ length: n }, (): Keypoint => [0, 0, 0]);
  return {
    name: `${seq.name}~mirror`,
    source: seq.source,
    sequence: {
      ...seq.sequence,
      frames: seq.sequence.frames.map((f) => ({
        persons: f.persons.map((p) => ({
          body: BODY_MIRROR.map((j): Keypoint => [1 - p.body[j]![0], p.body[j]![1], p.body[j]![2]]),
          hands: [empty(NUM_HAND), empty(NUM_HAND)],
          face: empty(NUM_FACE),
        })),
      })),
    },
  };
}

export interface AlignmentDataOptions {
  /** Folder with bvh/ and dwpose/; default ../shared/data/motion. */
  motionDir?: string;
  /** Seed of the split and of the default BVH cameras; default 0 (the held-out split of the baselines). */
  seed?: number;
  /** Camera projections per training BVH sequence; default 4. */
  bvhCameras?: number;
  /** Add a mirrored copy of every training sequence; default true. */
  mirror?: boolean;
}

export interface AlignmentData {
  train: NamedSequence[];
  val: NamedSequence[];
}

export async function loadAlignmentData(options: AlignmentDataOptions = {}): Promise<AlignmentData> {
  const dir = options.motionDir ?? '../shared/data/motion';
  const seed = options.seed ?? 0;
  const bvhDir = join(dir, 'bvh');
  const all = await loadMotionSequences({ bvhDir, dwposeDir: join(dir, 'dwpose'), seed });
  const { train, val } = splitBySequence(all, { seed });
  if (train.length === 0) throw new Error(`loadAlignmentData: no training sequences in ${dir}`);
  const trainNames = new Set(train.filter((s) => s.source === 'bvh').map((s) => s.name));
  for (let camera = 1; camera < (options.bvhCameras ?? 4); camera++) {
    const views = await loadMotionSequences({ bvhDir, seed: seed + 7919 * camera });
    for (const v of views) if (trainNames.has(v.name)) train.push({ ...v, name: `${v.name}#${camera}` });
  }
  if (options.mirror ?? true) train.push(...train.map(mirrorSequence));
  return { train, val };
}

export interface TrainingPairOptions extends Omit<SampleOptions, 'samplesPerSequence' | 'clipLength'> {
  /**
   * Scene augmentation: a random similarity about the frame centre applied to the reference and the ground
   * truth (as if the video had been filmed from a slightly different spot) before the MisAlign perturbation,
   * so that the block cannot memorise where each training subject stands. Undefined = none.
   */
  scene?: Partial<PerturbationRanges>;
}

/**
 * One training batch of single-frame pairs, half from each source (when both are present): the samples come
 * from makeAlignmentSamples, each with its closed-form SVD fit; the rare pair without two points visible in both
 * poses is dropped, so a batch can be a little short of `batchSize`.
 */
export function drawTrainingPairs(
  sequences: readonly NamedSequence[], rng: Rng, batchSize: number, options: TrainingPairOptions = {},
): AlignmentPair[] {
  const sources = [...new Set(sequences.map((s) => s.source))].sort();
  const pairs: AlignmentPair[] = [];
  sources.forEach((source, i) => {
    const group = sequences.filter((s) => s.source === source);
    const share = Math.floor(batchSize / sources.length) + (i < batchSize % sources.length ? 1 : 0);
    const perSequence = Math.ceil(share / group.length);
    const { scene, ...sampleOptions } = options;
    const samples = rng.shuffle(makeAlignmentSamples(group, rng, { ...sampleOptions, samplesPerSequence: perSequence, clipLength: 1 })).slice(0, share);
    for (const s of samples) {
      let { reference } = s;
      let target = s.target[0]!;
      let driven = s.driven[0]!;
      if (scene) {
        const g = samplePerturbation(rng, s.size, scene).similarity;
        reference = applySimilarity(reference, g);
        target = applySimilarity(target, g);
        driven = applySimilarity(target, s.perturbation.similarity);
      }
      try {
        const svd = fitSimilarity(reference, driven, { refSize: s.size });
        pairs.push({ reference, driven, target, refSize: s.size, drivenSize: s.size, svd });
      } catch (err) {
        if (!(err instanceof DegenerateFitError)) throw err;
      }
    }
  });
  return pairs;
}

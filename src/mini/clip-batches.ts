// Batches of clips from a dataset in the reference layout for the miniature stages: a pure function of
// (seed, step), through the animator trainer's index, order and loader (bad clips skipped the same way).
import type { BucketSpec } from '../train/animator/dataset.ts';
import { indexDataset } from '../train/animator/dataset.ts';
import { DataOrder, shardSlots } from '../train/animator/clip-sampler.ts';
import { ClipLoader, type LoadedSample } from '../train/animator/clip-loader.ts';

export interface ClipBatches {
  clips: number;
  batch(step: number): Promise<LoadedSample[]>;
}

export async function clipBatches(root: string, opts: { bucket: BucketSpec; clipsPerStep: number; numFrames: number; stride: number; seed: number; log?: (line: string) => void }): Promise<ClipBatches> {
  const index = await indexDataset(root, { buckets: [opts.bucket], minFrames: opts.numFrames + 1 });
  if (index.entries.length === 0) throw new Error(`${root}: no usable clips in bucket '${opts.bucket.name}' (${index.skipped.length} skipped)`);
  const order = new DataOrder(index.entries, opts.seed, opts.clipsPerStep);
  const loader = new ClipLoader(index, order, {
    numFrames: opts.numFrames, stride: opts.stride, seed: opts.seed,
    onSkip: (clip, reason, n) => opts.log?.(`skipping ${clip}: ${reason} (${n} bad clips)`),
  });
  return {
    clips: index.entries.length,
    batch: (step) => Promise.all(shardSlots(order.batch(step), 0, opts.clipsPerStep, 0, 1).map((ref) => loader.load(step, ref))),
  };
}

// Which clips and frames a training step sees, as a pure function of (seed, step): the data position is the
// step, so a resumed run draws exactly the batches an uninterrupted run would have.
//
// Order: each epoch shuffles every bucket's clips, cuts them into global batches (all of one bucket, so one
// resolution), and shuffles the batches of all buckets together — the reference's interleaving of its 512x512
// and 576x1024 loaders by a shuffled 0/1 list. A global batch holds batchSize x accumulation x worldSize
// samples; rank r takes its own contiguous share of each micro-batch (sharding by rank), so N processes see
// together exactly the samples one process with N times the batch sees.
//
// Frames, as `animation_dataset.py`: clip_len = min(L, (n−1)·stride + 1) consecutive frames starting at a
// random frame, n of them taken at linspace(start, start + clip_len − 1, n) (truncated to integers), and the
// reference a random frame outside the sampled ones.
import type { Rng } from '../../util/rng.ts';
import { positionRng } from '../../util/seeds.ts';
import type { ClipEntry } from './dataset.ts';

export interface ClipFrames {
  /** Indices into the entry's frame list. */
  frames: number[];
  reference: number;
}

export function sampleClipFrames(length: number, numFrames: number, stride: number, rng: Rng): ClipFrames {
  if (!(Number.isInteger(numFrames) && numFrames >= 1)) throw new Error(`sampleClipFrames: numFrames must be a positive integer, got ${numFrames}`);
  if (!(Number.isInteger(stride) && stride >= 1)) throw new Error(`sampleClipFrames: stride must be a positive integer, got ${stride}`);
  const clipLen = Math.min(length, (numFrames - 1) * stride + 1);
  const start = rng.int(length - clipLen + 1);
  const frames = Array.from({ length: numFrames }, (_, i) => Math.trunc(numFrames === 1 ? start : start + (i * (clipLen - 1)) / (numFrames - 1)));
  const used = new Set(frames);
  const outside = Array.from({ length }, (_, i) => i).filter((i) => !used.has(i));
  if (outside.length === 0) throw new Error(`sampleClipFrames: a ${length}-frame clip has no frame left for the reference after sampling ${numFrames}`);
  return { frames, reference: outside[rng.int(outside.length)]! };
}

export interface SampleRef {
  /** Index into the dataset's entries. */
  entry: number;
  /** Position of the sample in its global batch (seeds its frames and noise). */
  slot: number;
}

export interface GlobalBatch {
  bucket: string;
  /** Entry indices, globalBatch of them. */
  entries: number[];
}

export class DataOrder {
  private readonly byBucket: Map<string, number[]>;
  private readonly epochs = new Map<number, GlobalBatch[]>();
  readonly batchesPerEpoch: number;

  constructor(entries: readonly ClipEntry[], readonly seed: number, readonly globalBatch: number) {
    if (entries.length === 0) throw new Error('DataOrder: the dataset has no usable clips');
    if (!(Number.isInteger(globalBatch) && globalBatch >= 1)) throw new Error(`DataOrder: globalBatch must be a positive integer, got ${globalBatch}`);
    this.byBucket = new Map();
    entries.forEach((e, i) => {
      const list = this.byBucket.get(e.bucket) ?? [];
      list.push(i);
      this.byBucket.set(e.bucket, list);
    });
    this.batchesPerEpoch = [...this.byBucket.values()].reduce((n, l) => n + Math.ceil(l.length / globalBatch), 0);
  }

  /** Entries of `bucket` in the order the bad-entry fallback walks them. */
  bucketEntries(bucket: string): readonly number[] {
    return this.byBucket.get(bucket) ?? [];
  }

  private epoch(e: number): GlobalBatch[] {
    let batches = this.epochs.get(e);
    if (batches) return batches;
    const rng = positionRng(this.seed, 0x5eed, e);
    batches = [];
    for (const bucket of [...this.byBucket.keys()].sort()) {
      const order = rng.shuffle(this.byBucket.get(bucket)!);
      // the last batch of a bucket is filled up from the start of the same shuffle
      for (let i = 0; i < order.length; i += this.globalBatch) {
        batches.push({ bucket, entries: Array.from({ length: this.globalBatch }, (_, j) => order[(i + j) % order.length]!) });
      }
    }
    batches = rng.shuffle(batches);
    this.epochs.clear(); // only the current epoch is needed
    this.epochs.set(e, batches);
    return batches;
  }

  /** The global batch of optimizer step `step`. */
  batch(step: number): GlobalBatch {
    return this.epoch(Math.floor(step / this.batchesPerEpoch))[step % this.batchesPerEpoch]!;
  }
}

/**
 * The samples of one micro-batch for one rank: micro-batch m of the step covers global slots
 * [m·B·W, (m+1)·B·W), rank r the B of them starting at m·B·W + r·B.
 */
export function shardSlots(batch: GlobalBatch, micro: number, batchSize: number, rank: number, worldSize: number): SampleRef[] {
  const first = micro * batchSize * worldSize + rank * batchSize;
  return Array.from({ length: batchSize }, (_, i) => ({ entry: batch.entries[first + i]!, slot: first + i }));
}

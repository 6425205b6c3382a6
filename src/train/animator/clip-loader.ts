// Reading one training sample from disk: the sampled frames, their skeletons and face masks, and the
// reference frame, each decoded and resized to the bucket's size by a single libvips call (file read, decode
// and resize all run on libuv's thread pool, so the loads of the next batch proceed while a training step
// holds the main thread).
//
// A clip that fails to load (a corrupt or truncated PNG, a file deleted since indexing) is reported, counted
// and never tried again; the sample is taken from the next clip of the same bucket instead. The walk and
// every draw along it depend only on (seed, step, slot, attempt), so the substitute is the same in a resumed run.
import { join } from 'node:path';
import sharp from 'sharp';
import type { Image } from '../../io/image.ts';
import { positionRng } from '../../util/seeds.ts';
import { sampleClipFrames, type DataOrder, type SampleRef } from './clip-sampler.ts';
import { bucketSpec, type DatasetIndex } from './dataset.ts';
import type { LargestFaceEmbedding } from './validation.ts';

export interface LoadedSample {
  clip: string;
  bucket: string;
  width: number;
  height: number;
  /** Indices into the clip's frames. */
  frames: number[];
  reference: number;
  images: Image[];
  poses: Image[];
  /** Face masks, one byte per pixel (0 or 1), at width x height. */
  masks: Uint8Array[];
  referenceImage: Image;
  /** The reference frame's face mask (as `masks`); read by the loader. */
  referenceMask?: Uint8Array;
  /** The reference's raw ArcFace embedding; undefined: no face (or no embedder). */
  faceEmbedding?: Float32Array;
}

type Kernel = 'lanczos3' | 'cubic' | 'nearest';

/** path -> RGB at width x height (one libvips call). */
export async function readImageResized(path: string, width: number, height: number, kernel: Kernel): Promise<Image> {
  try {
    const { data, info } = await sharp(path).autoOrient().toColourspace('srgb').removeAlpha()
      .resize(width, height, { fit: 'fill', kernel }).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { width, height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (err) {
    throw new Error(`cannot read image ${path}: ${(err as Error).message}`);
  }
}

/** A face mask file -> 0/1 bytes at width x height (nearest neighbour; white = face). */
export async function readMaskResized(path: string, width: number, height: number): Promise<Uint8Array> {
  try {
    const { data, info } = await sharp(path).removeAlpha().greyscale().resize(width, height, { fit: 'fill', kernel: 'nearest' })
      .raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 1) throw new Error(`decoded to ${info.channels} channels, expected 1`);
    return Uint8Array.from(data, (v) => (v > 127 ? 1 : 0));
  } catch (err) {
    throw new Error(`cannot read mask ${path}: ${(err as Error).message}`);
  }
}

export interface ClipLoaderOptions {
  numFrames: number;
  stride: number;
  seed: number;
  /** The reference's ArcFace embedding (undefined = no face); called once per (clip, reference frame). */
  faceEmbedding?: LargestFaceEmbedding;
  onSkip?: (clip: string, reason: string, totalSkipped: number) => void;
}

export class ClipLoader {
  /** Clips that failed to load, with the reason. */
  readonly bad = new Map<string, string>();
  private readonly embeddings = new Map<string, Promise<Float32Array | undefined>>();

  constructor(readonly index: DatasetIndex, readonly order: DataOrder, readonly options: ClipLoaderOptions) {}

  /** The sample for `ref` of step `step`, from the next good clip of its bucket when its own is bad. */
  async load(step: number, ref: SampleRef): Promise<LoadedSample> {
    const bucket = this.index.entries[ref.entry]!.bucket;
    const walk = this.order.bucketEntries(bucket);
    const first = walk.indexOf(ref.entry);
    for (let attempt = 0; attempt < walk.length; attempt++) {
      const entry = this.index.entries[walk[(first + attempt) % walk.length]!]!;
      if (this.bad.has(entry.dir)) continue;
      const rng = positionRng(this.options.seed, step, ref.slot, attempt);
      const { frames, reference } = sampleClipFrames(entry.frames.length, this.options.numFrames, this.options.stride, rng);
      try {
        return await this.read(entry.dir, entry.bucket, entry.frames, frames, reference);
      } catch (err) {
        // loads of several steps run at once: the clip is reported by the first that fails on it
        if (!this.bad.has(entry.dir)) {
          const reason = (err as Error).message;
          this.bad.set(entry.dir, reason);
          this.options.onSkip?.(entry.dir, reason, this.bad.size);
        }
      }
    }
    throw new Error(`dataset ${this.index.root}: every clip of bucket '${bucket}' failed to load (${this.bad.size} bad clips)`);
  }

  private async read(dir: string, bucket: string, names: string[], frames: number[], reference: number): Promise<LoadedSample> {
    const { width, height } = bucketSpec(this.index, bucket);
    const file = (sub: string, i: number) => join(dir, sub, names[i]!);
    const [images, poses, masks, referenceImage, referenceMask] = await Promise.all([
      Promise.all(frames.map((i) => readImageResized(file('images', i), width, height, 'lanczos3'))),
      Promise.all(frames.map((i) => readImageResized(file('poses', i), width, height, 'cubic'))),
      Promise.all(frames.map((i) => readMaskResized(file('faces', i), width, height))),
      readImageResized(file('images', reference), width, height, 'lanczos3'),
      readMaskResized(file('faces', reference), width, height),
    ]);
    let faceEmbedding: Float32Array | undefined;
    if (this.options.faceEmbedding) {
      const key = `${dir}#${reference}`;
      if (!this.embeddings.has(key)) this.embeddings.set(key, this.options.faceEmbedding(referenceImage, { mask: referenceMask }));
      faceEmbedding = await this.embeddings.get(key);
    }
    return { clip: dir, bucket, width, height, frames, reference, images, poses, masks, referenceImage, referenceMask, faceEmbedding };
  }
}

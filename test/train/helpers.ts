// A tiny training set in the reference layout, written with the io helpers: <root>/<bucket>/<id>/{images,poses,faces}
// with distinct, known pixel values per (clip, frame) so that tests can tell which frame was read.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createImage, writeImage, type Image } from '../../src/io/image.ts';
import type { BucketSpec } from '../../src/train/animator/dataset.ts';

export const TINY_BUCKETS: BucketSpec[] = [
  { name: 'rec', width: 64, height: 64 },
  { name: 'vec', width: 64, height: 128 },
];

/** The value of pixel (0,0), channel 0, of frame `frame` of clip `clip` (unique for clip < 8, frame < 24). */
export function frameTag(clip: number, frame: number): number {
  return 10 + clip * 30 + frame;
}

function frameImage(w: number, h: number, clip: number, frame: number): Image {
  const img = createImage(w, h, 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      img.data[i] = frameTag(clip, frame);
      img.data[i + 1] = (x * 3 + frame * 7) & 255;
      img.data[i + 2] = (y * 5 + clip * 40) & 255;
    }
  }
  return img;
}

function poseImage(w: number, h: number, frame: number): Image {
  const img = createImage(w, h, 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (Math.abs(x - (w / 4 + frame)) < 2 || Math.abs(y - h / 2) < 2) img.data.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
    }
  }
  return img;
}

/** White face box over the top-left quarter (nearest-resized masks keep it exact at /8). */
function maskImage(w: number, h: number): Image {
  const img = createImage(w, h, 3);
  for (let y = 0; y < h / 2; y++) for (let x = 0; x < w / 2; x++) img.data.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
  return img;
}

export interface TinyDatasetSpec {
  /** Frames per clip, per bucket: { rec: [6, 6], vec: [6] } = two rec clips and one vec clip of 6 frames. */
  clips: Record<string, number[]>;
  buckets?: BucketSpec[];
  /** Write the video_<bucket>_path.txt lists (absolute paths); default true. */
  pathLists?: boolean;
}

/** Writes the dataset; returns the clip folders per bucket. Clip numbers run over all buckets (frameTag's `clip`). */
export async function writeTinyDataset(root: string, spec: TinyDatasetSpec): Promise<Record<string, string[]>> {
  const buckets = spec.buckets ?? TINY_BUCKETS;
  const out: Record<string, string[]> = {};
  let clip = 0;
  for (const b of buckets) {
    const dirs: string[] = [];
    for (const frames of spec.clips[b.name] ?? []) {
      const dir = join(root, b.name, String(clip + 1).padStart(5, '0'));
      for (let f = 0; f < frames; f++) {
        await writeImage(join(dir, 'images', `frame_${f}.png`), frameImage(b.width, b.height, clip, f));
        await writeImage(join(dir, 'poses', `frame_${f}.png`), poseImage(b.width, b.height, f));
        await writeImage(join(dir, 'faces', `frame_${f}.png`), maskImage(b.width, b.height));
      }
      dirs.push(dir);
      clip++;
    }
    out[b.name] = dirs;
    if (spec.pathLists ?? true) {
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, `video_${b.name}_path.txt`), dirs.map((d) => `${d}\n`).join(''));
    }
  }
  return out;
}

// Shared helpers for the media tests: scratch folders, synthetic images, pixel statistics.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createImage, type Image } from '../../src/io/image.ts';

/** The team's shared data folder next to the repository (absent in a user's fresh clone). */
export const SHARED_DIR = resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared');

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'sa-io-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A smooth gradient that moves with `t`: easy for codecs, so round-trip errors stay small. */
export function gradientImage(width: number, height: number, t = 0, channels: 3 | 4 = 3): Image {
  const img = createImage(width, height, channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      img.data[i] = 30 + Math.round((150 * x) / width) + 4 * t;
      img.data[i + 1] = 200 - Math.round((150 * y) / height);
      img.data[i + 2] = 90 + Math.round((60 * (x + y)) / (width + height)) + 2 * t;
      if (channels === 4) img.data[i + 3] = 255 - x;
    }
  }
  return img;
}

export function solidImage(width: number, height: number, rgb: [number, number, number]): Image {
  const img = createImage(width, height);
  for (let i = 0; i < img.data.length; i += 3) img.data.set(rgb, i);
  return img;
}

export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

export function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

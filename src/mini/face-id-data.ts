// Face crops of a synthetic dataset for the face-ID network: every frame with a face box gives one crop (a
// square around the box, resized to the input side), as RGB in [-1, 1] CHW, labelled by identity. Training
// identities come from the 'train' clips; the held-out identities (never trained on) are split in two halves
// for verification: threshold chosen on one (val), accuracy measured on the other (test).

import { join } from 'node:path';
import { cropBox } from '../face/align.ts';
import { readImage } from '../io/image.ts';
import type { Image } from '../io/image.ts';
import type { Box } from '../pose/dwpose/yolox.ts';
import { readFile } from 'node:fs/promises';
import { squareFaceBox } from '../face/align.ts';
import type { SynthDataset } from './synth/dataset.ts';
import type { Rng } from '../util/rng.ts';

export interface FaceCrops {
  /** N x 3 x side x side, RGB in [-1, 1]. */
  pixels: Float32Array;
  side: number;
  /** Identity name per crop. */
  identity: string[];
  /** Clip per crop (verification pairs of one identity come from different clips when they can). */
  clip: string[];
}

/** The frames with a face of some clips, kept whole so crops can be redrawn (jittered) at every step. */
export interface FaceFrames {
  images: Image[];
  boxes: Box[];
  identity: string[];
  clip: string[];
}

export async function loadFaceFrames(data: SynthDataset, clips: readonly string[]): Promise<FaceFrames> {
  const out: FaceFrames = { images: [], boxes: [], identity: [], clip: [] };
  const labels = new Map(data.clips.map((c) => [c.clip, c]));
  for (const name of clips) {
    const label = labels.get(name);
    if (!label) throw new Error(`${join(data.root, 'identities.json')}: no clip "${name}"`);
    const dir = join(data.root, label.path);
    const faces = JSON.parse(await readFile(join(dir, 'faces.json'), 'utf8')) as { boxes: Box[][] };
    for (let f = 0; f < faces.boxes.length; f++) {
      const box = faces.boxes[f]![0];
      if (!box) continue;
      out.images.push(await readImage(join(dir, 'images', `frame_${f}.png`), { channels: 3 }));
      out.boxes.push(box);
      out.identity.push(label.identity);
      out.clip.push(name);
    }
  }
  return out;
}

export interface CropJitter {
  rng: Rng;
  /** The square's size scaled by 1 ± amount and its centre moved by up to ±amount of its side. */
  amount: number;
}

/**
 * Writes the crop of one face (the square around its box, optionally jittered and mirrored) into `out` at
 * `offset`, as CHW RGB in [-1, 1].
 */
export function cropFace(image: Image, box: Box, side: number, out: Float32Array, offset: number, jitter?: CropJitter, mirror = false): void {
  let sq = squareFaceBox(box);
  if (jitter && jitter.amount > 0) {
    const { rng, amount } = jitter;
    const size = sq[2] - sq[0];
    const half = (size * (1 + rng.uniform(-amount, amount))) / 2;
    const cx = (sq[0] + sq[2]) / 2 + rng.uniform(-amount, amount) * size;
    const cy = (sq[1] + sq[3]) / 2 + rng.uniform(-amount, amount) * size;
    sq = [cx - half, cy - half, cx + half, cy + half];
  }
  const hwc = cropBox(image, sq, side);
  const plane = side * side;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const src = (y * side + (mirror ? side - 1 - x : x)) * 3;
      for (let c = 0; c < 3; c++) out[offset + c * plane + y * side + x] = hwc[src + c]! / 127.5 - 1;
    }
  }
}

/** Crops every face of the given clips (jittered with a seeded RNG when `jitter` > 0: a robustness check). */
export async function loadFaceCrops(data: SynthDataset, clips: readonly string[], side: number, jitter?: CropJitter): Promise<FaceCrops> {
  const frames = await loadFaceFrames(data, clips);
  const per = 3 * side * side;
  const pixels = new Float32Array(frames.images.length * per);
  frames.images.forEach((image, i) => cropFace(image, frames.boxes[i]!, side, pixels, i * per, jitter));
  return { pixels, side, identity: frames.identity, clip: frames.clip };
}

/** The crops for which `keep(i)` holds. */
export function subsetCrops(crops: FaceCrops, keep: (i: number) => boolean): FaceCrops {
  const per = 3 * crops.side * crops.side;
  const idx = crops.identity.map((_, i) => i).filter(keep);
  const pixels = new Float32Array(idx.length * per);
  idx.forEach((i, k) => pixels.set(crops.pixels.subarray(i * per, (i + 1) * per), k * per));
  return { pixels, side: crops.side, identity: idx.map((i) => crops.identity[i]!), clip: idx.map((i) => crops.clip[i]!) };
}

export interface VerificationPair { a: number; b: number; same: boolean }

/**
 * Balanced same/different pairs among the crops of `identities`: `count` of each kind. Same pairs take two
 * crops of one identity from different clips when it has more than one.
 */
export function verificationPairs(crops: FaceCrops, identities: readonly string[], count: number, rng: Rng): VerificationPair[] {
  const byId = new Map<string, number[]>();
  crops.identity.forEach((id, i) => {
    if (identities.includes(id)) byId.set(id, [...(byId.get(id) ?? []), i]);
  });
  const ids = [...byId.keys()].sort();
  if (ids.length < 2) throw new Error(`verificationPairs: need crops of at least 2 identities, found ${ids.length}`);
  const pick = (list: readonly number[]) => list[rng.int(list.length)]!;
  const pairs: VerificationPair[] = [];
  for (let n = 0; n < count; n++) {
    const id = ids[rng.int(ids.length)]!;
    const list = byId.get(id)!;
    const a = pick(list);
    const others = list.filter((i) => i !== a && crops.clip[i] !== crops.clip[a]);
    const b = others.length > 0 ? pick(others) : pick(list.filter((i) => i !== a).concat(a));
    pairs.push({ a, b, same: true });
    const other = ids[(ids.indexOf(id) + 1 + rng.int(ids.length - 1)) % ids.length]!;
    pairs.push({ a: pick(list), b: pick(byId.get(other)!), same: false });
  }
  return pairs;
}

/** The threshold on cosine similarity that classifies the most pairs right, and that accuracy. */
export function bestThreshold(similarities: readonly number[], same: readonly boolean[]): { threshold: number; accuracy: number } {
  const order = similarities.map((s, i) => [s, same[i] ? 1 : 0] as const).sort((x, y) => x[0] - y[0]);
  const positives = order.reduce((n, [, p]) => n + p, 0);
  // Threshold below order[k]: the k lowest are called "different".
  let best = { threshold: order[0]![0] - 1e-6, accuracy: positives / order.length };
  let negBelow = 0, posBelow = 0;
  for (let k = 0; k < order.length; k++) {
    if (order[k]![1]) posBelow++; else negBelow++;
    const next = k + 1 < order.length ? order[k + 1]![0] : order[k]![0] + 1e-6;
    const accuracy = (negBelow + positives - posBelow) / order.length;
    if (accuracy > best.accuracy) best = { threshold: (order[k]![0] + next) / 2, accuracy };
  }
  return best;
}

/** Accuracy of a fixed threshold (similarity > threshold = same). */
export function thresholdAccuracy(similarities: readonly number[], same: readonly boolean[], threshold: number): number {
  return similarities.reduce((n, s, i) => n + ((s > threshold) === same[i] ? 1 : 0), 0) / similarities.length;
}

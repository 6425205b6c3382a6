// Face crops of a synthetic dataset for the face-ID network: every frame with a face box gives one crop (a
// square around the box, resized to the input side), as RGB in [-1, 1] CHW, labelled by identity. Training
// identities come from the 'train' clips; the held-out identities (never trained on) are split in two halves
// for verification: threshold chosen on one (val), accuracy measured on the other (test).

import { join } from 'node:path';
import { cropBox } from '../face/align.ts';
import { readImage } from '../io/image.ts';
import type { Box } from '../pose/dwpose/yolox.ts';
import { readFile } from 'node:fs/promises';
import { squareFaceBox } from '../synth/contact-sheet.ts';
import type { SynthDataset } from '../synth/dataset.ts';
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

/** Crops every face of the given clips. */
export async function loadFaceCrops(data: SynthDataset, clips: readonly string[], side: number, onClip?: (done: number, total: number) => void): Promise<FaceCrops> {
  const chunks: Float32Array[] = [];
  const identity: string[] = [];
  const clip: string[] = [];
  const labels = new Map(data.clips.map((c) => [c.clip, c]));
  let done = 0;
  for (const name of clips) {
    const label = labels.get(name);
    if (!label) throw new Error(`${join(data.root, 'identities.json')}: no clip "${name}"`);
    const dir = join(data.root, label.path);
    const faces = JSON.parse(await readFile(join(dir, 'faces.json'), 'utf8')) as { boxes: Box[][] };
    for (let f = 0; f < faces.boxes.length; f++) {
      const box = faces.boxes[f]![0];
      if (!box) continue;
      const image = await readImage(join(dir, 'images', `frame_${f}.png`), { channels: 3 });
      const hwc = cropBox(image, squareFaceBox(box), side);
      const chw = new Float32Array(3 * side * side);
      for (let i = 0; i < side * side; i++) for (let c = 0; c < 3; c++) chw[c * side * side + i] = hwc[i * 3 + c]! / 127.5 - 1;
      chunks.push(chw);
      identity.push(label.identity);
      clip.push(name);
    }
    onClip?.(++done, clips.length);
  }
  const pixels = new Float32Array(chunks.length * 3 * side * side);
  chunks.forEach((c, i) => pixels.set(c, i * c.length));
  return { pixels, side, identity, clip };
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

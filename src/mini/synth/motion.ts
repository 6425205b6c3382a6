// Real motion for the synthetic clips: the BVH captures and DWPose dumps of ../shared/data/motion, split by
// whole sequence into training and held-out motions, and clip windows cut from them in pixel coordinates of
// the synthetic frame: a BVH is projected through a fresh random camera per clip (fixed for the clip), a
// DWPose dump (real video, upper body) is placed with a random zoom and shift.

import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { readBvh } from '../../pose/bvh.ts';
import type { Bvh } from '../../pose/bvh.ts';
import { readPoseFile } from '../../pose/keypoint-json.ts';
import type { Keypoint, PoseSequence } from '../../pose/keypoints.ts';
import { projectBvh, splitBySequence } from '../../pose/motion-data.ts';
import type { Rng } from '../../util/rng.ts';

export interface Motion {
  name: string;
  source: 'bvh' | 'dwpose';
  bvh?: Bvh;
  sequence?: PoseSequence;
  /** Frames at ~30 fps (BVH resampled as projectBvh does). */
  frames: number;
}

/** One motion: a .bvh capture or a keypoint .json (ours or a DWPose dump), named after the file. */
export async function loadMotionFile(path: string): Promise<Motion> {
  const name = basename(path).replace(/\.(bvh|json)$/, '');
  if (path.endsWith('.bvh')) {
    const bvh = await readBvh(path);
    const stride = Math.max(1, Math.round(1 / bvh.frameTime / 30));
    return { name, source: 'bvh', bvh, frames: Math.ceil(bvh.frameCount / stride) };
  }
  if (path.endsWith('.json')) {
    const sequence = await readPoseFile(path);
    return { name, source: 'dwpose', sequence, frames: sequence.frames.length };
  }
  throw new Error(`${path}: expected a motion as .bvh or keypoint .json`);
}

/** Every .bvh of `dir`/bvh and .json of `dir`/dwpose, sorted by name within each source. */
export async function loadMotions(dir: string): Promise<Motion[]> {
  const list = async (sub: string, ext: string) => {
    try {
      return (await readdir(join(dir, sub))).filter((f) => f.endsWith(ext)).sort().map((f) => join(dir, sub, f));
    } catch {
      return [];
    }
  };
  const out: Motion[] = [];
  for (const file of [...await list('bvh', '.bvh'), ...await list('dwpose', '.json')]) out.push(await loadMotionFile(file));
  if (out.length === 0) throw new Error(`synth: no motion in ${dir}: expected bvh/*.bvh or dwpose/*.json`);
  return out;
}

/** Training and held-out motions: a quarter of each source (at least one) held out, by whole sequence. */
export function splitMotions(motions: readonly Motion[], seed: number): { train: Motion[]; heldOut: Motion[] } {
  const { train, val } = splitBySequence(motions, { seed });
  return { train, heldOut: val };
}

export interface ClipWindow {
  motion: string;
  source: 'bvh' | 'dwpose';
  /** First frame (30 fps frames) and the step between kept frames. */
  start: number;
  stride: number;
  /** BVH camera, or the DWPose placement. */
  camera: Record<string, number>;
  /** Body points per frame, in pixels of the `size` x `size` frame. */
  body: Keypoint[][];
}

/** Cuts `frames` frames every `stride` from a random start (a shorter motion gets a smaller stride). */
export function cutClip(motion: Motion, rng: Rng, size: number, frames: number, stride: number): ClipWindow {
  let seq: PoseSequence;
  let camera: Record<string, number>;
  if (motion.bvh) {
    const projected = projectBvh(motion.bvh, rng, { size: [size, size], maxYawDeg: 70, heightFraction: [0.6, 0.8] });
    seq = projected.sequence;
    camera = { yawDeg: projected.camera.yawDeg, pitchDeg: projected.camera.pitchDeg, distance: projected.camera.distance };
  } else {
    seq = motion.sequence!;
    const zoom = rng.uniform(0.75, 1);
    const shiftX = rng.uniform(-0.06, 0.06), shiftY = rng.uniform(0.04, 0.14);
    camera = { zoom, shiftX, shiftY };
  }
  const n = seq.frames.length;
  const step = Math.max(1, Math.min(stride, Math.floor((n - 1) / Math.max(1, frames - 1))));
  if ((frames - 1) * step >= n) throw new Error(`synth: motion ${motion.name} has ${n} frames, fewer than the ${frames} a clip needs`);
  const start = rng.int(n - (frames - 1) * step);
  const body: Keypoint[][] = [];
  for (let f = 0; f < frames; f++) {
    const person = seq.frames[start + f * step]!.persons[0];
    const points = person ? person.body : Array.from({ length: 18 }, (): Keypoint => [0, 0, 0]);
    body.push(points.map(([x, y, s]): Keypoint => {
      if (motion.bvh) return [x * size, y * size, s];
      const c = camera as { zoom: number; shiftX: number; shiftY: number };
      return [((x - 0.5) * c.zoom + 0.5 + c.shiftX) * size, ((y - 0.5) * c.zoom + 0.5 + c.shiftY) * size, s];
    }));
  }
  // projectBvh frames the whole capture (a walk across the room makes a small figure): re-frame the window.
  if (motion.bvh) Object.assign(camera, frameWindow(body, rng, size));
  return { motion: motion.name, source: motion.source, start, stride: step, camera, body };
}

/**
 * Scales and moves a window's points (in place) so that the figure's median height is 65-85% of the frame
 * and every point stays inside, with room above the head for the drawn (larger) head.
 */
function frameWindow(body: Keypoint[][], rng: Rng, size: number): { zoom: number; shiftX: number; shiftY: number } {
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  const heights: number[] = [];
  for (const pts of body) {
    let lo = Infinity, hi = -Infinity;
    for (const [x, y, s] of pts) {
      if (s <= 0) continue;
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      lo = Math.min(lo, y); hi = Math.max(hi, y);
    }
    if (hi > lo) heights.push(hi - lo);
  }
  if (heights.length === 0) return { zoom: 1, shiftX: 0, shiftY: 0 };
  heights.sort((a, b) => a - b);
  const [top, side, bottom] = [0.14 * size, 0.05 * size, 0.03 * size];
  let k = (rng.uniform(0.65, 0.85) * size) / heights[Math.floor(heights.length / 2)]!;
  k = Math.min(k, (size - 2 * side) / Math.max(maxX - minX, 1e-6), (size - top - bottom) / Math.max(maxY - minY, 1e-6));
  const ox = rng.uniform(side, Math.max(side, size - side - k * (maxX - minX))) - k * minX;
  const oy = rng.uniform(top, Math.max(top, size - bottom - k * (maxY - minY))) - k * minY;
  for (const pts of body) for (const p of pts) [p[0], p[1]] = [k * p[0] + ox, k * p[1] + oy];
  return { zoom: k, shiftX: ox / size, shiftY: oy / size };
}

// The shipped motions a web user can pick instead of uploading a driving input: the BVH captures under
// assets/motion/bvh (assets/motion/README.md), seen from the front by a fixed camera at the capture's 30 fps; a
// job samples them at its fps (default: the weights' training rate). They are keypoints, so no detector runs on them.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readBvh } from '../pose/bvh.ts';
import type { PoseSequence } from '../pose/keypoints.ts';
import { projectBvh } from '../pose/motion-data.ts';
import { createRng } from '../util/rng.ts';

export const MOTION_DIR = new URL('../../assets/motion/bvh/', import.meta.url).pathname;
const MOTION_FPS = 30;

/** Names of the shipped motions (file names without .bvh). */
export function shippedMotions(dir = MOTION_DIR): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.bvh')).map((f) => f.slice(0, -4)).sort();
}

/** A shipped motion as keypoints in a `size` frame; the camera is fixed, so a motion always gives the same poses. */
export async function loadShippedMotion(name: string, size: [number, number], dir = MOTION_DIR): Promise<PoseSequence> {
  if (!shippedMotions(dir).includes(name)) throw new Error(`unknown motion '${name}' (shipped: ${shippedMotions(dir).join(', ')})`);
  const bvh = await readBvh(join(dir, `${name}.bvh`));
  return projectBvh(bvh, createRng(0), { size, fps: MOTION_FPS, maxYawDeg: 0, maxPitchDeg: 0, heightFraction: [0.8, 0.8] }).sequence;
}

// The synthetic dataset on disk, in the layout of the reference's animation_data (reference-implementation.md
// sec. 6) so the same readers train on it:
//
//   <root>/rec/<clip>/images/frame_i.png    the frames (RGB, size x size; square, hence `rec`)
//   <root>/rec/<clip>/faces/frame_i.png     face masks: single-channel, the face box filled with 255 (all 0 when
//                                           the face is turned away, as `faces mask` writes by default)
//   <root>/rec/<clip>/poses/frame_i.png     skeletons drawn as DWPose draws them (src/pose/render.ts)
//   <root>/rec/<clip>/keypoints.json        the drawn figure's keypoints (stable-animator-keypoints/1)
//   <root>/rec/<clip>/faces.json            face boxes per frame (the `faces mask` report format)
//   <root>/video_rec_path.txt               one clip folder per line, relative to <root> ("rec/00001")
//   <root>/video_vec_path.txt               the portrait list (empty: every synthetic clip is square)
//   <root>/identities.json                  every identity's parameters and every clip's labels
//   <root>/split.json                       training / held-out identities, training / held-out motions, and
//                                           the clips of each combination
//   <root>/synth.json                       the options of the run (checked when resuming)
//
// Deterministic: clip c is a function of (seed, c) alone — its identity, motion window, camera and background
// come from RNG streams seeded by (seed, identity) and (seed, clip) — so a run resumed after a kill (finished
// clips are skipped; keypoints.json is written last and marks a clip done) writes the same bytes as one
// uninterrupted run.

import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.ts';
import { writeImage } from '../../io/image.ts';
import type { FrameProgress } from '../../io/frame-folder.ts';
import { faceMask, writeMask } from '../../face/masks.ts';
import { writeKeypointJson } from '../../pose/keypoint-json.ts';
import { writePoseImage, type SkeletonStyle } from '../../pose/render.ts';
import { createRng } from '../../util/rng.ts';
import { renderClip } from './clip.ts';
import { sampleIdentity } from './identity.ts';
import type { Identity } from './identity.ts';
import { cutClip, loadMotions, splitMotions } from './motion.ts';
import type { Box } from '../../pose/dwpose/yolox.ts';

export const SYNTH_FORMAT = 'stable-animator-synth/1';

export interface SynthOptions {
  root: string;
  identities: number;
  clipsPerIdentity: number;
  frames: number;
  seed?: number;
  /** Frame side in pixels; default 128. */
  size?: number;
  /** Step between kept 30 fps motion frames; default 3 (10 fps clips). */
  stride?: number;
  /** Held-out identities: this fraction of N (at least 1 when N >= 2); default 0.2. */
  heldOutIdentities?: number;
  /** Probability that a clip uses a held-out motion; default 0.25. */
  heldOutMotionClips?: number;
  /** How poses/ are drawn; default 'reference' (src/pose/render.ts). */
  skeleton?: SkeletonStyle;
  /** Folder with bvh/ and dwpose/; default ../shared/data/motion. */
  motionDir?: string;
  onProgress?: (progress: FrameProgress) => void;
}

export type ClipGroup = 'train' | 'heldout_identity' | 'heldout_motion' | 'heldout_both';

export interface ClipLabel {
  clip: string;
  path: string;
  identity: string;
  motion: string;
  source: 'bvh' | 'dwpose';
  start: number;
  stride: number;
  frames: number;
  camera: Record<string, number>;
  background: string;
  group: ClipGroup;
  /** Frames whose face is turned away (no face box). */
  noFace: number[];
}

export interface SynthSplit {
  trainIdentities: string[];
  heldOutIdentities: string[];
  trainMotions: string[];
  heldOutMotions: string[];
  clips: Record<ClipGroup, string[]>;
}

/** A 32-bit stream seed from the run seed and a few integers (each stream independent of the others). */
function streamSeed(seed: number, ...parts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const p of parts) h = Math.imul(h ^ (p + 0x7f4a7c15), 0x85ebca6b) ^ (h >>> 13);
  return (h ^ (h >>> 16)) >>> 0;
}

export const identityName = (i: number) => `id${String(i).padStart(4, '0')}`;
export const clipName = (c: number) => String(c + 1).padStart(5, '0');

/** The identities of a run (a pure function of seed and count). */
export function runIdentities(seed: number, count: number): Identity[] {
  return Array.from({ length: count }, (_, i) => sampleIdentity(createRng(streamSeed(seed, 1, i)), identityName(i)));
}

/** Which identities are held out: a seeded choice of round(fraction·N) (>= 1 when N >= 2). */
export function heldOutIdentitySet(seed: number, count: number, fraction: number): Set<string> {
  const n = count >= 2 ? Math.max(1, Math.round(fraction * count)) : 0;
  return new Set(createRng(streamSeed(seed, 2)).shuffle(Array.from({ length: count }, (_, i) => identityName(i))).slice(0, n));
}

/** Writes (or completes) the dataset; returns the clip labels. */
export async function writeSynthDataset(options: SynthOptions): Promise<ClipLabel[]> {
  const seed = options.seed ?? 0;
  const size = options.size ?? 128;
  const stride = options.stride ?? 3;
  const { identities: N, clipsPerIdentity: K, frames: F } = options;
  for (const [name, v] of [['identities', N], ['clips-per-identity', K], ['frames', F]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`synth: --${name} must be a positive integer, got ${v}`);
  }
  const motionDir = options.motionDir ?? '../shared/data/motion';
  const settings = {
    format: SYNTH_FORMAT, identities: N, clipsPerIdentity: K, frames: F, seed, size, stride,
    heldOutIdentities: options.heldOutIdentities ?? 0.2, heldOutMotionClips: options.heldOutMotionClips ?? 0.25,
    // recorded only when not the default, so folders written before the option existed still resume
    ...(options.skeleton && options.skeleton !== 'reference' ? { skeleton: options.skeleton } : {}),
  };
  const root = options.root;
  const settingsPath = join(root, 'synth.json');
  const settingsText = `${JSON.stringify(settings, null, 2)}\n`;
  if (existsSync(settingsPath)) {
    const found = await readFile(settingsPath, 'utf8');
    if (found !== settingsText) {
      throw new Error(`${settingsPath}: the folder holds a dataset made with other options (found ${found.trim()}, expected ${settingsText.trim()}); use another folder`);
    }
  } else {
    await mkdir(root, { recursive: true });
    await writeFileAtomic(settingsPath, settingsText);
  }

  // identities.json and split.json are written last: a complete dataset is read, not rendered again
  if (existsSync(join(root, 'identities.json')) && existsSync(join(root, 'split.json'))) return (await readSynthDataset(root)).clips;

  const motions = await loadMotions(motionDir);
  const { train: trainMotions, heldOut: heldOutMotions } = splitMotions(motions, seed);
  const identities = runIdentities(seed, N);
  const heldOutIds = heldOutIdentitySet(seed, N, settings.heldOutIdentities);

  const labels: ClipLabel[] = [];
  const total = N * K * F;
  let done = 0;
  for (let i = 0; i < N; i++) {
    const id = identities[i]!;
    for (let j = 0; j < K; j++) {
      const c = i * K + j;
      const rng = createRng(streamSeed(seed, 3, c));
      const heldOutMotion = heldOutMotions.length > 0 && rng.next() < settings.heldOutMotionClips;
      const pool = heldOutMotion ? heldOutMotions : trainMotions;
      const motion = pool[rng.int(pool.length)]!;
      const window = cutClip(motion, rng, size, F, stride);
      const clip = clipName(c);
      const dir = join(root, 'rec', clip);
      const marker = join(dir, 'keypoints.json');
      // Rendering is cheap next to the PNG writes, and the labels need the clip: render, write only if missing.
      const rendered = renderClip(id, window.body, size, rng, 30 / window.stride);
      // Boxes at 0.01 px: what faces.json records is exactly what the masks are drawn from.
      const boxes = rendered.boxes.map((b) => (b ? b.map((v) => Math.round(v * 100) / 100) as Box : undefined));
      if (!existsSync(marker)) {
        for (let f = 0; f < F; f++) {
          const box = boxes[f];
          await writeImage(join(dir, 'images', `frame_${f}.png`), rendered.frames[f]!);
          await writeMask(join(dir, 'faces', `frame_${f}.png`), faceMask(size, size, box ? [box] : []));
          await writePoseImage(join(dir, 'poses', `frame_${f}.png`), rendered.poses.frames[f]!, size, size, { style: options.skeleton });
          options.onProgress?.({ frames: ++done, total });
        }
        await writeFileAtomic(join(dir, 'faces.json'), `${JSON.stringify({
          frames: F, size: [size, size], missing: boxes.flatMap((b, f) => (b ? [] : [f])),
          boxes: boxes.map((b) => (b ? [b] : [])), missingPolicy: 'empty',
        })}\n`);
        await writeKeypointJson(marker, rendered.poses);
      } else {
        done += F;
        options.onProgress?.({ frames: done, total });
      }
      const group: ClipGroup = heldOutIds.has(id.id) ? (heldOutMotion ? 'heldout_both' : 'heldout_identity') : (heldOutMotion ? 'heldout_motion' : 'train');
      labels.push({
        clip, path: `rec/${clip}`, identity: id.id, motion: motion.name, source: motion.source, start: window.start,
        stride: window.stride, frames: F, camera: window.camera, background: rendered.background, group,
        noFace: rendered.boxes.flatMap((b, f) => (b ? [] : [f])),
      });
    }
  }

  await writeFileAtomic(join(root, 'video_rec_path.txt'), labels.map((l) => `${l.path}\n`).join(''));
  await writeFileAtomic(join(root, 'video_vec_path.txt'), '');
  await writeFileAtomic(join(root, 'identities.json'), `${JSON.stringify({ format: SYNTH_FORMAT, identities, clips: labels }, null, 1)}\n`);
  const byGroup = (g: ClipGroup) => labels.filter((l) => l.group === g).map((l) => l.clip);
  const split: SynthSplit = {
    trainIdentities: identities.filter((id) => !heldOutIds.has(id.id)).map((id) => id.id),
    heldOutIdentities: identities.filter((id) => heldOutIds.has(id.id)).map((id) => id.id),
    trainMotions: trainMotions.map((m) => m.name),
    heldOutMotions: heldOutMotions.map((m) => m.name),
    clips: { train: byGroup('train'), heldout_identity: byGroup('heldout_identity'), heldout_motion: byGroup('heldout_motion'), heldout_both: byGroup('heldout_both') },
  };
  await writeFileAtomic(join(root, 'split.json'), `${JSON.stringify(split, null, 1)}\n`);
  return labels;
}

export interface SynthDataset {
  root: string;
  identities: Identity[];
  clips: ClipLabel[];
  split: SynthSplit;
}

/** Reads identities.json and split.json of a written dataset. */
export async function readSynthDataset(root: string): Promise<SynthDataset> {
  const read = async (name: string) => {
    const path = join(root, name);
    if (!existsSync(path)) throw new Error(`${path}: not found; expected a dataset written by 'stable-animator synth'`);
    return JSON.parse(await readFile(path, 'utf8'));
  };
  const labels = await read('identities.json');
  if (labels.format !== SYNTH_FORMAT) throw new Error(`${join(root, 'identities.json')}: expected format "${SYNTH_FORMAT}", found ${JSON.stringify(labels.format)}`);
  return { root, identities: labels.identities, clips: labels.clips, split: await read('split.json') };
}

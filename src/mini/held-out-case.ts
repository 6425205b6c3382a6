// One evaluation case of the miniature (issue 8): a held-out synthetic identity performing a held-out motion,
// with everything the paper's MisAlign protocol needs. Frame 0 of the rendered clip is the reference photo;
// frames 1..F are the ground truth; the driving poses are the ground truth's keypoints moved by one random
// similarity (rotation, scale, shift), as a driving video of another framing would be. An aligner that undoes
// the perturbation gives back the ground-truth skeletons, so the output can be scored against real frames.
import type { Image } from '../io/image.ts';
import type { Box } from '../pose/dwpose/yolox.ts';
import type { PoseFrame } from '../pose/keypoints.ts';
import { perturbPerson, samplePerturbation, type Perturbation, type PerturbationRanges } from '../pose/motion-data.ts';
import { renderClip } from './synth/clip.ts';
import type { Identity } from './synth/identity.ts';
import { cutClip, type Motion } from './synth/motion.ts';
import { createRng } from '../util/rng.ts';

export interface HeldOutCase {
  name: string;
  identity: string;
  motion: string;
  size: number;
  reference: Image;
  referencePose: PoseFrame;
  referenceFaceBox: Box;
  truth: Image[];
  truthPoses: PoseFrame[];
  /** Where the faces are in the ground truth (undefined: turned away). */
  truthFaceBoxes: (Box | undefined)[];
  /** The ground-truth poses under `perturbation`. */
  driving: PoseFrame[];
  perturbation: Perturbation;
  /** The clip's frame rate (30 fps motion / stride): what its animation plays at. */
  fps: number;
}

export interface HeldOutCaseOptions {
  identity: Identity;
  motion: Motion;
  frames: number;
  size: number;
  seed: number;
  /**
   * Step between kept 30 fps motion frames; default 6: the miniature trains on every 2nd frame of its 10 fps
   * clips (frameStride 2 of stride 3), so its windows have learned that much motion between frames.
   */
  stride?: number;
  ranges?: Partial<PerturbationRanges>;
}

/** Seeds tried after `seed` for a clip whose reference frame shows the face. */
const MAX_TRIES = 20;

export function heldOutCase(o: HeldOutCaseOptions): HeldOutCase {
  for (let k = 0; k < MAX_TRIES; k++) {
    const rng = createRng(o.seed + k);
    const window = cutClip(o.motion, rng, o.size, o.frames + 1, o.stride ?? 6);
    const clip = renderClip(o.identity, window.body, o.size, rng, 30 / window.stride);
    const refBox = clip.boxes[0];
    if (!refBox || clip.poses.frames[0]!.persons.length === 0) continue;
    const perturbation = samplePerturbation(rng, [o.size, o.size], o.ranges);
    const truthPoses = clip.poses.frames.slice(1);
    return {
      name: `${o.identity.id}-${o.motion.name}-${o.seed + k}`, identity: o.identity.id, motion: o.motion.name, size: o.size,
      reference: clip.frames[0]!, referencePose: clip.poses.frames[0]!, referenceFaceBox: refBox,
      truth: clip.frames.slice(1), truthPoses, truthFaceBoxes: clip.boxes.slice(1),
      driving: truthPoses.map((f) => ({ persons: f.persons.map((p) => perturbPerson(p, perturbation)) })),
      perturbation, fps: 30 / window.stride,
    };
  }
  throw new Error(`heldOutCase: ${o.identity.id} on ${o.motion.name}: no clip with a visible reference face in seeds ${o.seed}..${o.seed + MAX_TRIES - 1}`);
}

// 2D similarity transforms between keypoint frames.
//
// Keypoints are stored normalised by their frame's width and height, which is not an isotropic space when the
// frame is not square: a rotation there would shear the body. So a similarity is defined in pixel units
// (source pixels -> target pixels) and carried to normalised coordinates as an affine `matrix`:
//   p_dst_norm = diag(1/Wd, 1/Hd) · (scale · R(angle) · diag(Ws, Hs) · p_src_norm + translation)
// Angles are in radians, measured in image axes (x right, y down), so a positive angle turns clockwise on screen.

import type { Keypoint, PersonPose } from './keypoints.ts';

/** Row-major 2x3 affine on normalised coordinates: x' = m0 x + m1 y + m2, y' = m3 x + m4 y + m5. */
export type Affine2D = readonly [number, number, number, number, number, number];

export interface Similarity {
  /** Rotation angle in radians (pixel space). */
  angle: number;
  scale: number;
  /** Translation in target-frame pixels, applied after rotation and scaling. */
  translation: [number, number];
  /** The same map on normalised coordinates (source frame -> target frame). */
  matrix: Affine2D;
}

export type FrameSize = readonly [number, number];

export const IDENTITY_AFFINE: Affine2D = [1, 0, 0, 0, 1, 0];

/** Builds a similarity from its pixel-space parameters. */
export function makeSimilarity(
  angle: number, scale: number, translation: readonly [number, number],
  srcSize: FrameSize, dstSize: FrameSize = srcSize,
): Similarity {
  const [ws, hs] = srcSize;
  const [wd, hd] = dstSize;
  const c = Math.cos(angle) * scale;
  const s = Math.sin(angle) * scale;
  const matrix: Affine2D = [
    (c * ws) / wd, (-s * hs) / wd, translation[0] / wd,
    (s * ws) / hd, (c * hs) / hd, translation[1] / hd,
  ];
  return { angle, scale, translation: [translation[0], translation[1]], matrix };
}

/**
 * The similarity that rotates by `angle`, scales by `scale` about the frame centre, then shifts by
 * `shift` (fractions of the frame width and height). Used for MisAlign-style perturbations.
 */
export function similarityAboutCentre(
  angle: number, scale: number, shift: readonly [number, number], size: FrameSize,
): Similarity {
  const [w, h] = size;
  const cx = w / 2;
  const cy = h / 2;
  const c = Math.cos(angle) * scale;
  const s = Math.sin(angle) * scale;
  const tx = cx - (c * cx - s * cy) + shift[0] * w;
  const ty = cy - (s * cx + c * cy) + shift[1] * h;
  return makeSimilarity(angle, scale, [tx, ty], size, size);
}

/** The inverse similarity (target -> source). */
export function invertSimilarity(sim: Similarity, srcSize: FrameSize, dstSize: FrameSize = srcSize): Similarity {
  if (!(sim.scale > 0)) throw new Error(`invertSimilarity: scale must be positive, got ${sim.scale}`);
  const angle = -sim.angle;
  const scale = 1 / sim.scale;
  const c = Math.cos(angle) * scale;
  const s = Math.sin(angle) * scale;
  const [tx, ty] = sim.translation;
  return makeSimilarity(angle, scale, [-(c * tx - s * ty), -(s * tx + c * ty)], dstSize, srcSize);
}

export function applyAffineToPoint(m: Affine2D, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/** Maps every keypoint's xy (missing ones too, so they stay consistent); scores are kept. */
export function applyAffineToKeypoints(m: Affine2D, points: readonly Keypoint[]): Keypoint[] {
  return points.map(([x, y, score]) => {
    const [u, v] = applyAffineToPoint(m, x, y);
    return [u, v, score];
  });
}

/** Applies a similarity (or a bare affine) to a whole person: body, both hands and face. */
export function applySimilarity(person: PersonPose, sim: Similarity | Affine2D): PersonPose {
  const m = 'matrix' in sim ? sim.matrix : sim;
  return {
    body: applyAffineToKeypoints(m, person.body),
    hands: [applyAffineToKeypoints(m, person.hands[0]), applyAffineToKeypoints(m, person.hands[1])],
    face: applyAffineToKeypoints(m, person.face),
  };
}

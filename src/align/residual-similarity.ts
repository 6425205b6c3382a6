// The block's output transform (eqs. 10-11), predicted as a residual correction ON TOP of the closed-form SVD
// transform: the aligned pose is s·R(θ)·(q - c) + c + t, where q is the SVD-aligned pose in the reference
// frame's aspect space (see alignment-features.ts) and c the centroid of its visible points. Written about c
// rather than the origin so that a small rotation or scale does not also move the body; as a map it is still
// s·R·q + t' with t' = c - s·R·c + t, a similarity. With (θ, log s, t) = 0 it is the identity, so a head whose
// last layer starts at zero reproduces the SVD result exactly.

import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import { makeSimilarity } from '../pose/similarity.ts';
import type { FrameSize, Similarity } from '../pose/similarity.ts';

/** Per frame [θ (radians), log s, tx, ty (aspect units)]. */
export const CORRECTION_PARAMS = 4;

/** params [B, 4], points [B, K, 2], centres [B, 2] -> corrected points [B, K, 2] (aspect space). */
export function applyCorrection(params: Tensor, points: Tensor, centres: Tensor): Tensor {
  const angle = params.select(1, 0).unsqueeze(1);
  const scale = params.select(1, 1).exp().unsqueeze(1);
  const c = centres.unsqueeze(1);
  const d = points.sub(c);
  const dx = d.select(2, 0);
  const dy = d.select(2, 1);
  const cos = angle.cos().mul(scale);
  const sin = angle.sin().mul(scale);
  const x = cos.mul(dx).sub(sin.mul(dy));
  const y = sin.mul(dx).add(cos.mul(dy));
  return torch.stack([x, y], 2).add(c).add(params.narrow(1, 2, 2).unsqueeze(1));
}

/** Aspect-space points [B, K, 2] -> normalised coordinates, with aspectToNorm [B, 2] = [S/W, S/H]. */
export function aspectToNormalized(points: Tensor, aspectToNorm: Tensor): Tensor {
  return points.mul(aspectToNorm.unsqueeze(1)).add(0.5);
}

/**
 * The whole driven -> reference similarity: the correction (θ, log s, t about centre c, aspect space of the
 * reference frame) composed after the SVD fit. In reference pixels P (S = the longer side, P_c = S·c + [W/2, H/2]):
 * P' = s·R·(P - P_c) + P_c + S·t with P = s0·R0·D + t0, so angle θ0 + θ, scale s·s0, translation
 * s·R·(t0 - P_c) + P_c + S·t.
 */
export function composeCorrection(
  svd: Similarity, params: ArrayLike<number>, centre: ArrayLike<number>, refSize: FrameSize, drivenSize: FrameSize,
): Similarity {
  const [w, h] = refSize;
  const side = Math.max(w, h);
  const [angle, logScale, tx, ty] = [params[0]!, params[1]!, params[2]!, params[3]!];
  const s = Math.exp(logScale);
  const cos = Math.cos(angle) * s;
  const sin = Math.sin(angle) * s;
  const pcx = side * centre[0]! + w / 2;
  const pcy = side * centre[1]! + h / 2;
  const [t0x, t0y] = svd.translation;
  const translation: [number, number] = [
    cos * (t0x - pcx) - sin * (t0y - pcy) + pcx + side * tx,
    sin * (t0x - pcx) + cos * (t0y - pcy) + pcy + side * ty,
  ];
  return makeSimilarity(svd.angle + angle, svd.scale * s, translation, drivenSize, refSize);
}

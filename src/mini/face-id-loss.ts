// ArcFace (additive angular margin, Deng et al. 2019), as insightface's arcface_torch computes it: the logits
// are s·cos θ_j between the normalised embedding and the normalised class centres, with the target class's
// angle widened by m: s·cos(θ_y + m) = s·(cos θ_y cos m − sin θ_y sin m). Past θ_y > π − m, where cos(θ + m)
// would stop decreasing, it falls back to cos θ_y − m·sin m (arcface_torch's "th / mm" branch).

import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';

export interface ArcFaceOptions {
  /** Scale s; default 64 for 512-d faces, 30 suits small embeddings and few classes. */
  scale?: number;
  /** Angular margin m, radians; default 0.5. */
  margin?: number;
}

/** One-hot [B, C] float tensor of integer labels. */
export function oneHot(labels: readonly number[], classes: number): Tensor {
  const data = new Float32Array(labels.length * classes);
  labels.forEach((y, i) => {
    if (!(Number.isInteger(y) && y >= 0 && y < classes)) throw new Error(`oneHot: label ${y} at ${i} is outside [0, ${classes})`);
    data[i * classes + y] = 1;
  });
  return torch.tensor(data, { shape: [labels.length, classes] });
}

/** The ArcFace logits from cosines [B, C] (so a test can differentiate through the margin term alone). */
export function arcFaceLogits(cosines: Tensor, labels: readonly number[], options: ArcFaceOptions = {}): Tensor {
  const s = options.scale ?? 64;
  const m = options.margin ?? 0.5;
  return torch.scope(() => {
    const hot = oneHot(labels, cosines.size(1)).toDtype(cosines.dtype);
    const cosT = cosines.mul(hot).sum([1], true); // [B, 1]
    const sinT = torch.clampMin(cosT.square().neg().add(1), 1e-12).sqrt();
    const widened = cosT.mul(Math.cos(m)).sub(sinT.mul(Math.sin(m)));
    const fallback = cosT.sub(m * Math.sin(m));
    const target = torch.where(cosT.gt(Math.cos(Math.PI - m)), widened, fallback);
    return cosines.add(hot.mul(target.sub(cosT))).mul(s);
  });
}

/** Cosines between L2-normalised embeddings [B, D] and class centres [C, D]. */
export function classCosines(embeddings: Tensor, centres: Tensor): Tensor {
  return torch.scope(() => {
    const e = embeddings.div(torch.clampMin(embeddings.norm(2, [1], true), 1e-12));
    const w = centres.div(torch.clampMin(centres.norm(2, [1], true), 1e-12));
    return e.matmul(w.transpose(0, 1)).clamp(-1, 1);
  });
}

/** Mean cross-entropy of the ArcFace logits. */
export function arcFaceLoss(embeddings: Tensor, centres: Tensor, labels: readonly number[], options: ArcFaceOptions = {}): Tensor {
  return torch.scope(() => {
    const logits = arcFaceLogits(classCosines(embeddings, centres), labels, options);
    const target = torch.tensor(BigInt64Array.from(labels.map((y) => BigInt(y))), { shape: [labels.length] });
    return torch.crossEntropy(logits, target);
  });
}

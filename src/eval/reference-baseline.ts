// What an animation has to beat: simply repeating the reference photo (issue 15). A still photo of the person
// already scores well on whole-frame PSNR/SSIM, since most pixels (background, the body's unmoved parts) do not
// change; so the scores that tell animation from no animation are taken where the person moved:
//
//   moving region  pixels where the ground truth differs from the reference by more than 40/255 in some channel
//   moving PSNR    PSNR over those pixels (every channel of them), from their total squared error
//
// Each score comes with the repeat-the-reference baseline on the same frames, so a report reads "ours vs a still".
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import { l1, psnr, ssim } from './image-metrics.ts';

/** A pixel moved when some channel of the ground truth differs from the reference by more than this many levels of 255. */
export const MOVING_THRESHOLD = 40;

/**
 * The moving region of ground-truth frames `gt` [N,C,H,W] (values in [0,1]) against `reference` [1,C,H,W] or
 * [C,H,W]: [N,1,H,W] of 0/1 (f64).
 */
export function movingRegion(reference: Tensor, gt: Tensor, threshold = MOVING_THRESHOLD): Tensor {
  const ref = reference.ndim === 3 ? reference.unsqueeze(0) : reference;
  if (ref.shape.slice(1).join() !== gt.shape.slice(1).join()) {
    throw new Error(`movingRegion: reference [${reference.shape}] and frames [${gt.shape}] differ in size`);
  }
  // compared in 255 levels, rounded, so 8-bit frames give exactly the pixels a uint8 difference gives
  return torch.scope(() => gt.double().sub(ref.double()).abs().mul(255).round().gt(threshold).amax(1, true).double());
}

/** PSNR (data range 1) over the pixels where `mask` [N,1,H,W] is 1, every channel; NaN when the mask is empty. */
export function maskedPsnr(pred: Tensor, gt: Tensor, mask: Tensor): number {
  if (pred.shape.join() !== gt.shape.join()) throw new Error(`maskedPsnr: prediction [${pred.shape}] and ground truth [${gt.shape}] differ in shape`);
  return torch.scope(() => {
    const m = mask.double();
    const count = m.sum().item() * pred.size(1);
    if (count === 0) return Number.NaN;
    const se = pred.double().sub(gt.double()).square().mul(m).sum().item();
    return 10 * Math.log10(count / Math.max(se, 1e-30));
  });
}

export interface FrameScores {
  l1: number;
  psnr: number;
  ssim: number;
  /** PSNR over the moving region. */
  movingPsnr: number;
}

export interface ScoresWithBaseline extends FrameScores {
  /** The same scores of the reference repeated on every frame. */
  baseline: FrameScores;
  /** Fraction of the pixels in the moving region. */
  movingFraction: number;
}

function frameScores(pred: Tensor, gt: Tensor, moving: Tensor): FrameScores {
  return { l1: l1(pred, gt), psnr: psnr(pred, gt), ssim: ssim(pred, gt), movingPsnr: maskedPsnr(pred, gt, moving) };
}

/** Scores of `pred` against `gt` ([N,C,H,W] in [0,1]) beside those of `reference` ([1,C,H,W]) repeated N times. */
export function scoreWithBaseline(pred: Tensor, gt: Tensor, reference: Tensor): ScoresWithBaseline {
  return torch.scope(() => {
    const moving = movingRegion(reference, gt);
    const still = (reference.ndim === 3 ? reference.unsqueeze(0) : reference).expand(gt.shape).contiguous();
    return {
      ...frameScores(pred, gt, moving),
      baseline: frameScores(still, gt, moving),
      movingFraction: moving.mean().item(),
    };
  });
}

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
import { l1, ssim } from './image-metrics.ts';

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

interface Sums {
  abs: number;
  sq: number;
  ssim: number;
  movingSq: number;
}

const zeroSums = (): Sums => ({ abs: 0, sq: 0, ssim: 0, movingSq: 0 });

/**
 * Scores pooled over chunks of frames (long videos need not fit in memory), equal to the scores of the whole
 * sequence at once: L1 and PSNR from the total absolute and squared errors, SSIM as the mean over frames,
 * moving PSNR from the squared error and the count of the moving pixels.
 */
export class BaselineAccumulator {
  private frames = 0;
  private pixels = 0;
  private movingPixels = 0;
  private readonly ours = zeroSums();
  private readonly still = zeroSums();

  /** reference: [1,C,H,W] or [C,H,W] in [0,1], the size of the frames to come. */
  constructor(private readonly reference: Tensor) {}

  push(pred: Tensor, gt: Tensor): void {
    if (pred.shape.join() !== gt.shape.join()) throw new Error(`scores: prediction [${pred.shape}] and ground truth [${gt.shape}] differ in shape`);
    torch.scope(() => {
      const n = gt.size(0);
      const moving = movingRegion(this.reference, gt);
      const ref = this.reference.ndim === 3 ? this.reference.unsqueeze(0) : this.reference;
      const still = ref.expand(gt.shape).contiguous();
      for (const [sums, x] of [[this.ours, pred], [this.still, still]] as const) {
        sums.abs += l1(x, gt) * n;
        sums.sq += x.double().sub(gt.double()).square().mean().item() * n;
        sums.ssim += ssim(x, gt) * n;
        sums.movingSq += x.double().sub(gt.double()).square().mul(moving).sum().item();
      }
      this.frames += n;
      this.pixels += moving.numel;
      this.movingPixels += moving.sum().item();
    });
  }

  /** Frees the reference tensor the accumulator was given. */
  dispose(): void {
    this.reference.dispose();
  }

  result(): ScoresWithBaseline {
    if (this.frames === 0) throw new Error('scores: no frames were compared');
    const channels = this.reference.size(this.reference.ndim - 3);
    const scores = (s: Sums): FrameScores => ({
      l1: s.abs / this.frames, psnr: 10 * Math.log10(this.frames / s.sq), ssim: s.ssim / this.frames,
      movingPsnr: this.movingPixels > 0 ? 10 * Math.log10((this.movingPixels * channels) / Math.max(s.movingSq, 1e-30)) : Number.NaN,
    });
    return { ...scores(this.ours), baseline: scores(this.still), movingFraction: this.movingPixels / this.pixels };
  }
}

/** Scores of `pred` against `gt` ([N,C,H,W] in [0,1]) beside those of `reference` ([1,C,H,W]) repeated N times. */
export function scoreWithBaseline(pred: Tensor, gt: Tensor, reference: Tensor): ScoresWithBaseline {
  const acc = new BaselineAccumulator(reference);
  acc.push(pred, gt);
  return acc.result();
}

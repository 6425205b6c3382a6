// Frame-quality metrics on images in [0, 1], shaped [N, C, H, W] (N frames).
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';

function checkPair(pred: Tensor, gt: Tensor, metric: string): void {
  if (pred.shape.join() !== gt.shape.join()) {
    throw new Error(`${metric}: prediction [${pred.shape}] and ground truth [${gt.shape}] differ in shape`);
  }
  if (pred.ndim !== 4) throw new Error(`${metric}: expected [N, C, H, W] frames, got [${pred.shape}]`);
}

/** Mean absolute error over all pixels and frames. */
export function l1(pred: Tensor, gt: Tensor): number {
  checkPair(pred, gt, 'L1');
  return torch.scope(() => pred.double().sub(gt.double()).abs().mean().item());
}

/** PSNR of the mean squared error over all frames at once (data range 1). */
export function psnr(pred: Tensor, gt: Tensor): number {
  checkPair(pred, gt, 'PSNR');
  return torch.scope(() => 10 * Math.log10(1 / pred.double().sub(gt.double()).square().mean().item()));
}

/**
 * PSNR* (DisCo's variant): PSNR per frame, computed in floating point (the original evaluation
 * subtracted uint8 arrays, which wraps around), then averaged over frames.
 */
export function psnrStar(pred: Tensor, gt: Tensor): number {
  checkPair(pred, gt, 'PSNR*');
  return torch.scope(() => {
    const mse = pred.double().sub(gt.double()).square().mean([1, 2, 3]).clampMin(1e-12);
    return mse.log10().mul(-10).mean().item();
  });
}

/**
 * Mean SSIM as scikit-image's `structural_similarity` defaults (7x7 uniform window, K1 0.01, K2 0.03,
 * sample covariance, the border of 3 pixels excluded, averaged over channels and frames), data range 1.
 */
export function ssim(pred: Tensor, gt: Tensor, opts: { winSize?: number; dataRange?: number } = {}): number {
  checkPair(pred, gt, 'SSIM');
  const win = opts.winSize ?? 7;
  const range = opts.dataRange ?? 1;
  return torch.scope(() => {
    const [n, c, h, w] = pred.shape;
    if (h < win || w < win) throw new Error(`SSIM: images of ${h}x${w} are smaller than the ${win}x${win} window`);
    const x = pred.double().reshape([n * c, 1, h, w]);
    const y = gt.double().reshape([n * c, 1, h, w]);
    // a valid (unpadded) box filter equals skimage's reflect-padded filter with the border cropped
    const mean = (t: Tensor) => t.avgPool2d([win, win], [1, 1]);
    const np = win * win;
    const cov = np / (np - 1);
    const ux = mean(x), uy = mean(y);
    const vx = mean(x.mul(x)).sub(ux.mul(ux)).mul(cov);
    const vy = mean(y.mul(y)).sub(uy.mul(uy)).mul(cov);
    const vxy = mean(x.mul(y)).sub(ux.mul(uy)).mul(cov);
    const c1 = (0.01 * range) ** 2, c2 = (0.03 * range) ** 2;
    const num = ux.mul(uy).mul(2).add(c1).mul(vxy.mul(2).add(c2));
    const den = ux.square().add(uy.square()).add(c1).mul(vx.add(vy).add(c2));
    return num.div(den).mean().item();
  });
}

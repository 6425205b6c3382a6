// The CLIP input of SVD's `_encode_image`: diffusers' `_resize_with_antialiasing` to 224x224, then
// [-1,1] -> [0,1] and CLIP's mean/std (CLIPImageProcessor with resize, crop and rescale off).
//
// The antialiased resize (diffusers, after kornia and skimage):
//   factor_i = in_i / out_i,  σ_i = max((factor_i − 1)/2, 0.001),  k_i = int(max(4σ_i, 3)) made odd
//   separable Gaussian blur (x first, then y) with reflect padding, in the input's dtype,
//   then bicubic interpolation with align_corners=True.
// The kernels are built with the same tensor ops, shapes and dtypes as the reference, so the weights
// round identically.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';

/** CLIP's normalisation constants (OpenAI CLIP / SVD-xt feature_extractor). */
export const CLIP_IMAGE_MEAN: readonly number[] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_IMAGE_STD: readonly number[] = [0.26862954, 0.26130258, 0.27577711];
export const CLIP_IMAGE_SIZE = 224;

/** Blur parameters for resizing one axis from `inSize` to `outSize`. */
export function antialiasBlur(inSize: number, outSize: number): { sigma: number; kernelSize: number } {
  const sigma = Math.max((inSize / outSize - 1) / 2, 0.001);
  let kernelSize = Math.trunc(Math.max(2 * 2 * sigma, 3));
  if (kernelSize % 2 === 0) kernelSize += 1;
  return { sigma, kernelSize };
}

/** A normalised 1-D Gaussian [1, size] in `dtype`; sigma is rounded to dtype first, as the reference does. */
export function gaussianKernel1d(size: number, sigma: number, dtype: torch.DType = 'f32'): Tensor {
  return torch.scope(() => {
    const s = torch.full([1, 1], sigma, dtype);
    let x = torch.arange(0, size, 1, dtype).sub(Math.floor(size / 2)).expand([1, -1]);
    if (size % 2 === 0) x = x.add(0.5);
    const gauss = x.pow(2).neg().div(s.pow(2).mul(2)).exp();
    return gauss.div(gauss.sum([-1], true));
  });
}

/** Pads for a kernel [kh, kw], F.pad order (left, right, top, bottom); the extra one goes after. */
function kernelPadding(kh: number, kw: number): number[] {
  const pad = (k: number) => [Math.floor((k - 1) / 2), k - 1 - Math.floor((k - 1) / 2)];
  return [...pad(kw), ...pad(kh)];
}

/** Depthwise 2-D filtering of [B,C,H,W] with one kernel [kh, kw] shared by all channels, reflect padding. */
function filter2d(x: Tensor, kernel: Tensor): Tensor {
  return torch.scope(() => {
    const [b, c, h, w] = x.shape as [number, number, number, number];
    const [kh, kw] = kernel.shape as [number, number];
    const weight = kernel.to(x.dtype).reshape([1, 1, kh, kw]).expand([-1, c, -1, -1]).reshape([c, 1, kh, kw]);
    const padded = torch.pad(x, kernelPadding(kh, kw), 'reflect');
    const out = torch.conv2d(padded.reshape([-1, c, padded.size(-2), padded.size(-1)]), weight, undefined, 1, 0, 1, c);
    return out.reshape([b, c, h, w]);
  });
}

/** diffusers' `_resize_with_antialiasing(x, size)`: Gaussian blur, then bicubic (align_corners=True). */
export function resizeWithAntialiasing(x: Tensor, size: [number, number]): Tensor {
  if (x.ndim !== 4) throw new Error(`resizeWithAntialiasing: expected [B,C,H,W], got [${x.shape}]`);
  const [h, w] = x.shape.slice(-2) as [number, number];
  const ay = antialiasBlur(h, size[0]);
  const ax = antialiasBlur(w, size[1]);
  return torch.scope(() => {
    const kx = gaussianKernel1d(ax.kernelSize, ax.sigma, x.dtype);
    const ky = gaussianKernel1d(ay.kernelSize, ay.sigma, x.dtype);
    const blurredX = filter2d(x, kx);
    const blurred = filter2d(blurredX, ky.reshape([ay.kernelSize, 1]));
    return torch.interpolateBicubic(blurred, size, true);
  });
}

export interface ClipPreprocessOptions {
  /** Output side; default 224. */
  size?: number;
  mean?: readonly number[];
  std?: readonly number[];
}

/**
 * An image batch in [-1, 1], [B,3,H,W], to CLIP pixel values [B,3,224,224] exactly as SVD's
 * `_encode_image` prepares them (no crop: the whole image is squeezed to a square).
 */
export function clipPreprocess(image: Tensor, opts: ClipPreprocessOptions = {}): Tensor {
  const size = opts.size ?? CLIP_IMAGE_SIZE;
  const mean = opts.mean ?? CLIP_IMAGE_MEAN;
  const std = opts.std ?? CLIP_IMAGE_STD;
  if (image.ndim !== 4 || image.size(1) !== mean.length) throw new Error(`clipPreprocess: expected [B,${mean.length},H,W], got [${image.shape}]`);
  return torch.scope(() => {
    const x = resizeWithAntialiasing(image, [size, size]).add(1).div(2);
    const m = torch.tensor([...mean], { dtype: x.dtype }).reshape([1, -1, 1, 1]);
    const s = torch.tensor([...std], { dtype: x.dtype }).reshape([1, -1, 1, 1]);
    return x.sub(m).div(s);
  });
}

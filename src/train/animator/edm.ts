// The denoising objective of StableAnimator's `train.py`: SVD's EDM parameterisation (v-prediction,
// sigma_data = 1) and the face-weighted reconstruction loss of StableAnimator++ eq. 25.
//
//   x_t = x0 + σ·ε;  UNet input c_in·x_t = x_t / sqrt(σ² + 1);  timestep c_noise = 0.25·ln σ
//   D = c_out·F + c_skip·x_t = F·(−σ / sqrt(σ² + 1)) + x_t / (σ² + 1)
//   loss = mean_b mean_{f,c,h,w} λ(σ)·(D − x0)²·(1 + M),  λ(σ) = (1 + σ²) / σ²
//
// with M the face mask resized to the latent (nearest, one channel broadcast over the four).
// σ is drawn per sample from the reference's distribution, k-diffusion's `rand_cosine_interpolated`
// (image_d 64, noise_d 32..64, sigma_data 0.5, σ in [0.002, 700]), or from the EDM log-normal
// (ln σ ~ N(P_mean, P_std²)) when configured.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import type { Rng } from '../../util/rng.ts';

export type SigmaSampling =
  | { kind: 'cosine-interpolated'; imageD: number; noiseDLow: number; noiseDHigh: number; sigmaData: number; sigmaMin: number; sigmaMax: number }
  | { kind: 'lognormal'; pMean: number; pStd: number };

/** The reference's sampler (`train.py`). */
export const REFERENCE_SIGMA_SAMPLING: SigmaSampling = {
  kind: 'cosine-interpolated', imageD: 64, noiseDLow: 32, noiseDHigh: 64, sigmaData: 0.5, sigmaMin: 0.002, sigmaMax: 700,
};

/** EDM's log-normal with the values of SVD fine-tuning scripts (P_mean 0.7, P_std 1.6). */
export const LOGNORMAL_SIGMA_SAMPLING: SigmaSampling = { kind: 'lognormal', pMean: 0.7, pStd: 1.6 };

function logsnrCosine(t: number, logsnrMin: number, logsnrMax: number): number {
  const tMin = Math.atan(Math.exp(-0.5 * logsnrMax));
  const tMax = Math.atan(Math.exp(-0.5 * logsnrMin));
  return -2 * Math.log(Math.tan(tMin + t * (tMax - tMin)));
}

function logsnrCosineShifted(t: number, imageD: number, noiseD: number, logsnrMin: number, logsnrMax: number): number {
  const shift = 2 * Math.log(noiseD / imageD);
  return logsnrCosine(t, logsnrMin - shift, logsnrMax - shift) + shift;
}

/** k-diffusion's interpolated cosine schedule at u in [0, 1) -> σ (u = 0: σ_max, u -> 1: σ_min). */
export function sigmaCosineInterpolated(u: number, s: Extract<SigmaSampling, { kind: 'cosine-interpolated' }>): number {
  // k-diffusion's names: "logsnr_min" comes from sigma_min (it is the larger log-SNR); kept for the formula
  const logsnrMin = -2 * Math.log(s.sigmaMin / s.sigmaData);
  const logsnrMax = -2 * Math.log(s.sigmaMax / s.sigmaData);
  const low = logsnrCosineShifted(u, s.imageD, s.noiseDLow, logsnrMin, logsnrMax);
  const high = logsnrCosineShifted(u, s.imageD, s.noiseDHigh, logsnrMin, logsnrMax);
  const logsnr = low + u * (high - low);
  return Math.exp(-logsnr / 2) * s.sigmaData;
}

export function sampleSigma(s: SigmaSampling, rng: Rng): number {
  return s.kind === 'lognormal' ? Math.exp(s.pMean + s.pStd * rng.normal()) : sigmaCosineInterpolated(rng.next(), s);
}

export interface EdmScalings {
  cIn: number;
  cNoise: number;
  cSkip: number;
  cOut: number;
  /** λ(σ) = (1 + σ²) / σ². */
  weight: number;
}

export function edmScalings(sigma: number): EdmScalings {
  const s2 = sigma * sigma;
  return { cIn: 1 / Math.sqrt(s2 + 1), cNoise: 0.25 * Math.log(sigma), cSkip: 1 / (s2 + 1), cOut: -sigma / Math.sqrt(s2 + 1), weight: (1 + s2) / s2 };
}

/** Per-sample scalings as [B,1,1,1,1] tensors for [B,F,C,H,W] latents. */
export function scalingTensor(values: number[], device: torch.Device): Tensor {
  return torch.tensor(values, { dtype: 'f32' }).reshape([-1, 1, 1, 1, 1]).to(device);
}

/**
 * Eq. 25: out (UNet output F), xt, x0 [B,F,C,h,w]; sigmas per sample; mask [B,F,1,h,w] of 0/1 at the latent
 * size -> the scalar loss (f32).
 */
export function faceWeightedLoss(out: Tensor, xt: Tensor, x0: Tensor, sigmas: number[], mask: Tensor): Tensor {
  return torch.scope(() => {
    const sc = sigmas.map(edmScalings);
    const dev = out.device;
    const denoised = out.to('f32').mul(scalingTensor(sc.map((s) => s.cOut), dev)).add(xt.mul(scalingTensor(sc.map((s) => s.cSkip), dev)));
    const err = denoised.sub(x0).square().mul(mask.add(1)).mul(scalingTensor(sc.map((s) => s.weight), dev));
    return err.flatten(1).mean([1]).mean();
  });
}

/** Face masks [B,F,1,H,W] (0/1) -> the latent size, nearest neighbour (F.interpolate's default mode). */
export function masksToLatent(masks: Tensor, latentH: number, latentW: number): Tensor {
  return torch.scope(() => {
    const [b, f, , h, w] = masks.shape;
    return torch.interpolateNearest(masks.reshape([b * f, 1, h, w]), [latentH, latentW]).reshape([b, f, 1, latentH, latentW]);
  });
}

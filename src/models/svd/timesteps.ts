// Sinusoidal timestep embedding (diffusers `get_timestep_embedding` / `Timesteps`): the SVD UNet uses
// flip_sin_to_cos=True and downscale_freq_shift=0 for the noise level, the added time ids and the
// per-frame position of the temporal transformers.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';

export interface SinusoidalOptions {
  /** Put the cosines first (diffusers' flip_sin_to_cos). Default false. */
  flipSinToCos?: boolean;
  /** Frequencies are exp(-ln(maxPeriod)·i/(dim/2 − shift)). Default 1. */
  downscaleFreqShift?: number;
  scale?: number;
  maxPeriod?: number;
}

/** timesteps [N] (any real or integer dtype) -> [N, dim] float32. */
export function sinusoidalEmbedding(timesteps: Tensor, dim: number, opts: SinusoidalOptions = {}): Tensor {
  if (timesteps.ndim !== 1) throw new Error(`sinusoidalEmbedding: timesteps must be 1-D, got [${timesteps.shape}]`);
  const half = Math.floor(dim / 2);
  const shift = opts.downscaleFreqShift ?? 1;
  const scale = opts.scale ?? 1;
  return torch.scope(() => {
    const exponent = torch.arange(0, half, 1, 'f32', undefined, timesteps.device).mul(-Math.log(opts.maxPeriod ?? 10000)).div(half - shift);
    let args = timesteps.unsqueeze(1).to('f32').mul(exponent.exp().unsqueeze(0));
    if (scale !== 1) args = args.mul(scale);
    const [sin, cos] = [args.sin(), args.cos()];
    let emb = torch.cat(opts.flipSinToCos ? [cos, sin] : [sin, cos], -1);
    if (dim % 2 === 1) emb = emb.pad([0, 1, 0, 0]);
    return emb;
  });
}

/** The weightless `Timesteps` module: a fixed sinusoidal projection of width numChannels. */
export class Timesteps extends nn.Module {
  constructor(readonly numChannels: number, readonly flipSinToCos: boolean, readonly downscaleFreqShift: number, readonly scale = 1) {
    super();
  }

  forward(timesteps: Tensor): Tensor {
    return sinusoidalEmbedding(timesteps, this.numChannels, {
      flipSinToCos: this.flipSinToCos, downscaleFreqShift: this.downscaleFreqShift, scale: this.scale,
    });
  }
}

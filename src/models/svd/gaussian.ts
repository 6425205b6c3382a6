// diffusers' `DiagonalGaussianDistribution`: the VAE posterior from [mean, logvar] moments on channels,
// logvar clamped to [-30, 20].
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';

export class DiagonalGaussianDistribution {
  readonly mean: Tensor;
  readonly logvar: Tensor;
  readonly std: Tensor;
  readonly var: Tensor;

  /** moments [N, 2·C, ...]: the first C channels are the mean, the rest the log-variance. */
  constructor(moments: Tensor, readonly deterministic = false) {
    const [mean, logvar] = moments.chunk(2, 1);
    this.mean = mean;
    this.logvar = logvar.clamp(-30, 20);
    this.std = this.logvar.mul(0.5).exp();
    this.var = this.logvar.exp();
    if (deterministic) {
      this.std = torch.zerosLike(this.mean);
      this.var = torch.zerosLike(this.mean);
    }
  }

  /** The most likely latent: the mean. */
  mode(): Tensor {
    return this.mean;
  }

  /** mean + std·ε with ε ~ N(0, 1) from the given generator (explicit, reproducible). */
  sample(generator: torch.Generator): Tensor {
    return torch.scope(() => {
      // drawn on the generator's device, then moved (diffusers' randn_tensor)
      let eps = torch.randn(this.mean.shape, generator, this.mean.dtype, undefined, generator.device);
      if (eps.device !== this.mean.device) eps = eps.to(this.mean.device);
      return this.mean.add(this.std.mul(eps));
    });
  }

  /** KL divergence to N(0, 1), summed over all but the batch dimension. */
  kl(): Tensor {
    if (this.deterministic) return torch.zeros([this.mean.size(0)], this.mean.dtype, undefined, this.mean.device);
    return torch.scope(() => {
      const dims = Array.from({ length: this.mean.ndim - 1 }, (_, i) => i + 1);
      return this.mean.square().add(this.var).sub(1).sub(this.logvar).sum(dims).mul(0.5);
    });
  }
}

// diffusers' `AlphaBlender` (time_mixer): out = α·x_spatial + (1−α)·x_temporal with a learned α.
//   'learned'              α = sigmoid(mix_factor)                      (VAE decoder)
//   'learned_with_images'  α = 1 for frames flagged image-only, else sigmoid(mix_factor)   (UNet)
//   'fixed'                α = mix_factor (a buffer)
// switchSpatialToTemporalMix swaps the roles (α -> 1−α), as the VAE decoder builds it.
// The UNet's image_only_indicator is all zeros in SVD and StableAnimator, so 'learned_with_images'
// then equals 'learned'; callers pass `undefined` for that case and skip building the indicator.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';

export type MergeStrategy = 'learned' | 'learned_with_images' | 'fixed';

export class AlphaBlender extends nn.Module {
  mix_factor: Tensor;

  constructor(alpha: number, readonly mergeStrategy: MergeStrategy = 'learned_with_images', readonly switchSpatialToTemporalMix = false) {
    super();
    const value = nn.init.constant([1], alpha);
    this.mix_factor = mergeStrategy === 'fixed' ? nn.buffer(value) : nn.parameter(value);
  }

  /**
   * The weight of x_temporal, 1−α (α after the optional switch): [1], or [B, F] per frame when an
   * image-only indicator [B, F] is given (learned_with_images only).
   */
  temporalWeight(imageOnlyIndicator?: Tensor): Tensor {
    return torch.scope(() => {
      let alpha = this.mergeStrategy === 'fixed' ? this.mix_factor : this.mix_factor.sigmoid();
      if (this.mergeStrategy === 'learned_with_images' && imageOnlyIndicator) {
        alpha = torch.where(imageOnlyIndicator.to('bool'), 1, alpha.to(imageOnlyIndicator.dtype));
      }
      return this.switchSpatialToTemporalMix ? alpha : alpha.neg().add(1);
    });
  }

  /**
   * α·xSpatial + (1−α)·xTemporal, as xSpatial + w·(xTemporal − xSpatial) with w = temporalWeight
   * broadcastable to the inputs (the result takes xSpatial's memory layout).
   */
  forward(xSpatial: Tensor, xTemporal: Tensor, temporalWeight: Tensor): Tensor {
    const w = temporalWeight.dtype === xSpatial.dtype ? temporalWeight : temporalWeight.to(xSpatial.dtype);
    return torch.lerp(xSpatial, xTemporal, w);
  }
}

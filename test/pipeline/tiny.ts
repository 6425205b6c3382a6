// Tiny random StableAnimator components for end-to-end pipeline tests: the exact module structures at the
// smallest widths (UNet as the unet_stableanimator_tiny fixture but with 64-wide tokens, a 4-level VAE so
// that the latent is 1/8 of the image as in SVD, a 28-pixel CLIP, a 1-head Face Encoder, a narrow iResNet).
// Layers the reference initialises at zero (PoseNet final_proj, the Perceiver's proj_out) get small random
// weights so that every path changes the output.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { PoseNet } from '../../src/models/animator/pose-net.ts';
import { StableAnimatorUNet } from '../../src/models/animator/stable-animator-unet.ts';
import { FusionFaceId } from '../../src/models/face/face-encoder.ts';
import { IResNet } from '../../src/models/face/iresnet.ts';
import { AutoencoderKLTemporalDecoder } from '../../src/models/svd/autoencoder.ts';
import { CLIPVisionModelWithProjection, CLIP_VISION_DEFAULTS } from '../../src/models/svd/clip-vision.ts';
import { EulerDiscreteScheduler } from '../../src/sampling/euler-discrete.ts';
import type { StableAnimatorComponents } from '../../src/pipeline/animate.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures');

export const TOKEN_DIM = 64;
export const ID_DIM = 16;

export const TINY_UNET_CONFIG = {
  ...(JSON.parse(readFileSync(join(FIX, 'unet_stableanimator_tiny', 'config.json'), 'utf8')) as Record<string, unknown>),
  cross_attention_dim: TOKEN_DIM,
};

export function svdScheduler(): EulerDiscreteScheduler {
  return EulerDiscreteScheduler.fromConfig(JSON.parse(readFileSync(join(FIX, 'scheduler_svd', 'scheduler_config.json'), 'utf8')));
}

/** Replaces all-zero parameters by small Gaussian ones. */
function randomizeZeros(m: nn.Module, g: torch.Generator): void {
  torch.noGrad(() => {
    for (const p of m.parameters()) if (p.abs().max().item() === 0) p.copy_(torch.randn(p.shape, g).mul(0.05));
  });
}

export function tinyComponents(seed = 0): StableAnimatorComponents & { faceRecognizer: IResNet } {
  return nn.withInit({ seed }, () => {
    const g = new torch.Generator(seed + 1);
    const poseNet = new PoseNet(32);
    const faceEncoder = new FusionFaceId(TOKEN_DIM, ID_DIM, TOKEN_DIM, 4);
    randomizeZeros(poseNet, g);
    randomizeZeros(faceEncoder, g);
    return {
      unet: StableAnimatorUNet.fromConfig(TINY_UNET_CONFIG),
      vae: new AutoencoderKLTemporalDecoder({
        down_block_types: Array(4).fill('DownEncoderBlock2D'), block_out_channels: [32, 32, 32, 32], layers_per_block: 1,
      }),
      imageEncoder: new CLIPVisionModelWithProjection({
        ...CLIP_VISION_DEFAULTS, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2,
        image_size: 28, patch_size: 14, projection_dim: TOKEN_DIM, hidden_act: 'gelu',
      }),
      poseNet,
      faceEncoder,
      scheduler: svdScheduler(),
      faceRecognizer: new IResNet({ layers: [1, 1, 1, 1], widths: [8, 8, 16, 16], stem_width: 8, num_features: ID_DIM }),
    };
  });
}

/** A smooth random image in [-1,1], [1,3,h,w]. */
export function randomImage(h: number, w: number, seed: number): Tensor {
  const g = new torch.Generator(seed);
  const coarse = torch.randn([1, 3, Math.max(2, h / 8), Math.max(2, w / 8)], g);
  return torch.interpolateBilinear(coarse, [h, w], false).tanh();
}

/** F skeleton-like images in [-1,1] (mostly -1 with bright strokes), [F,3,h,w]. */
export function randomPoses(frames: number, h: number, w: number, seed: number): Tensor {
  const g = new torch.Generator(seed);
  return torch.rand([frames, 3, h, w], g).gt(0.9).to('f32').mul(2).sub(1);
}

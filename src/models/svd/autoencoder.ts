// diffusers' `AutoencoderKLTemporalDecoder` (SVD's VAE): a 2-D KL encoder (+ quant_conv) and the
// temporal decoder, built from its config.json.
import * as torch from '../../torch/index.ts';
import type { Device, DType, Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { knownFields } from '../config.ts';
import { DiagonalGaussianDistribution } from './gaussian.ts';
import { setMemoryLimits, type MemoryLimits } from './memory-limits.ts';
import { loadPretrained } from './pretrained.ts';
import { TemporalDecoder } from './temporal-decoder.ts';
import { Encoder } from './vae-encoder.ts';

/** The diffusers config fields (snake_case, as in config.json), defaults as diffusers'. */
export interface AutoencoderTemporalConfig {
  in_channels: number;
  out_channels: number;
  down_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number;
  latent_channels: number;
  sample_size: number;
  scaling_factor: number;
  force_upcast: boolean;
  /**
   * GroupNorm groups of encoder and decoder. Not a field of diffusers' AutoencoderKLTemporalDecoder, which always
   * uses 32 (SVD's config has none): the miniature sets 8, since at its widths of 32 channels 32 groups normalise
   * each channel alone, which erases the colour of flat regions (measured: issue 15, docs/mini.md).
   */
  norm_num_groups?: number;
}

export const VAE_DEFAULT_CONFIG: AutoencoderTemporalConfig = {
  in_channels: 3,
  out_channels: 3,
  down_block_types: ['DownEncoderBlock2D'],
  block_out_channels: [64],
  layers_per_block: 1,
  latent_channels: 4,
  sample_size: 32,
  scaling_factor: 0.18215,
  force_upcast: true,
  norm_num_groups: 32,
};

export class AutoencoderKLTemporalDecoder extends nn.Module {
  encoder: Encoder;
  decoder: TemporalDecoder;
  quant_conv: nn.Conv2d;
  readonly config: AutoencoderTemporalConfig;

  constructor(config: Partial<AutoencoderTemporalConfig> = {}) {
    super();
    const c: AutoencoderTemporalConfig = { ...VAE_DEFAULT_CONFIG, ...config };
    this.config = c;
    if (c.block_out_channels.length !== c.down_block_types.length) {
      throw new Error(`VAE config: ${c.block_out_channels.length} block_out_channels for ${c.down_block_types.length} down blocks`);
    }
    this.encoder = new Encoder({
      in_channels: c.in_channels, out_channels: c.latent_channels, down_block_types: c.down_block_types,
      block_out_channels: c.block_out_channels, layers_per_block: c.layers_per_block, double_z: true, norm_num_groups: c.norm_num_groups,
    });
    this.decoder = new TemporalDecoder({
      in_channels: c.latent_channels, out_channels: c.out_channels, block_out_channels: c.block_out_channels, layers_per_block: c.layers_per_block,
      norm_num_groups: c.norm_num_groups,
    });
    this.quant_conv = new nn.Conv2d(2 * c.latent_channels, 2 * c.latent_channels, 1);
  }

  /** A model from a diffusers config.json object (unknown fields such as _class_name are ignored). */
  static fromConfig(json: Record<string, unknown>): AutoencoderKLTemporalDecoder {
    return new AutoencoderKLTemporalDecoder(knownFields(json, VAE_DEFAULT_CONFIG));
  }

  /** Loads `dir/config.json` and `dir/diffusion_pytorch_model[.fp16].safetensors` (SVD's `vae/` folder). */
  static fromPretrained(dir: string, opts: { dtype?: DType; device?: Device; variant?: 'fp16' } = {}): AutoencoderKLTemporalDecoder {
    return loadPretrained(dir, 'AutoencoderKLTemporalDecoder', (cfg) => AutoencoderKLTemporalDecoder.fromConfig(cfg), opts);
  }

  get scalingFactor(): number {
    return this.config.scaling_factor;
  }

  /** images [N, 3, H, W] in [-1, 1] -> the latent posterior (mean/logvar [N, latent, H/8, W/8] for SVD). */
  encode(images: Tensor): DiagonalGaussianDistribution {
    const moments = torch.scope(() => this.quant_conv.forward(this.encoder.forward(images)));
    return new DiagonalGaussianDistribution(moments);
  }

  /**
   * latents [B·F, latent, h, w], frames of each of the B videos consecutive -> images [B·F, 3, H, W].
   * The decoder's temporal layers mix the numFrames frames of each video (diffusers' vae.decode
   * builds image_only_indicator = zeros(B, F); with the decoder's 'learned' mixing it only tells the
   * frame count). Latents as the UNet sees them: divide by scalingFactor first.
   */
  decode(latents: Tensor, numFrames: number): Tensor {
    if (latents.ndim !== 4) throw new Error(`VAE decode: latents must be [frames, channels, h, w], got [${latents.shape}]`);
    if (!Number.isInteger(numFrames) || numFrames < 1 || latents.size(0) % numFrames) {
      throw new Error(`VAE decode: ${latents.size(0)} latent frames are not a whole number of videos of ${numFrames} frames`);
    }
    return this.decoder.forward(latents, { numFrames });
  }

  /**
   * The SVD pipeline's chunked decode (`decode_latents`): latents [N, latent, h, w] decoded
   * decodeChunkSize frames at a time, each chunk as one clip of its own length (so the temporal
   * layers never see across chunk borders, exactly as diffusers), concatenated -> [N, 3, H, W].
   * decodeChunkSize undefined or ≥ N decodes all frames as one clip.
   */
  decodeChunked(latents: Tensor, decodeChunkSize?: number): Tensor {
    const n = latents.size(0);
    const chunk = decodeChunkSize && decodeChunkSize > 0 ? Math.min(decodeChunkSize, n) : n;
    if (chunk === n) return this.decode(latents, n);
    return torch.scope(() => {
      const parts: Tensor[] = [];
      for (let s = 0; s < n; s += chunk) {
        const len = Math.min(chunk, n - s);
        parts.push(this.decode(latents.narrow(0, s, len), len));
      }
      return torch.cat(parts, 0);
    });
  }

  /** Gradient checkpointing of the decoder's mid and up blocks while a graph is recorded. */
  enableGradientCheckpointing(on = true): this {
    this.decoder.gradientCheckpointing = on;
    return this;
  }

  /** Bounds the transient attention scores of the mid blocks (same results, less memory). */
  setMemoryLimits(limits: MemoryLimits): this {
    setMemoryLimits(this, limits);
    return this;
  }
}

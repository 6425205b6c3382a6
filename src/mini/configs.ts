// The miniature StableAnimator++ (issue 8): the same module structures as the released model at widths that
// train on a 2-core CPU, for 128x128 synthetic figures. Configs in the released files' own formats (diffusers /
// transformers config.json keys), so the trained folders load with the same code as the real weights.

import type { SkeletonStyle } from '../pose/render.ts';

/** Frame side and frames per training clip. */
export const MINI_SIZE = 128;
export const MINI_FRAMES = 4;
/** Frames per second of its training clips: 30 fps motion, every 3rd frame in the data (synth/dataset.ts), every 2nd of those in a clip (MINI_FRAME_STRIDE). */
export const MINI_FRAME_STRIDE = 2;
export const MINI_FPS = 30 / 3 / MINI_FRAME_STRIDE;

/**
 * Skeletons as the miniature sees them: 'legible' (4 px limbs at 128 px). The reference style draws 0.5 px
 * limbs at this size, dotted lines a small model cannot read (issue 15). Recorded in miniature.json.
 */
export const MINI_SKELETON: SkeletonStyle = 'legible';

/**
 * Temporal VAE: 4 levels (latent = 1/8 of the frame, as SVD's), widths 32..64, GroupNorm in 8 groups (4-8
 * channels each). SVD's 32 groups would normalise each channel of these narrow layers alone, which erases the
 * colour of flat regions: measured at 100 steps, held-out reconstruction 16.1 dB with 8 groups, 15.6 with 32
 * (loss 0.321 vs 0.346); the shipped 600-step VAE with 32 groups reached only 17.5 dB.
 */
export const MINI_VAE_CONFIG = {
  in_channels: 3,
  out_channels: 3,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  block_out_channels: [32, 32, 64, 64],
  layers_per_block: 1,
  latent_channels: 4,
  sample_size: MINI_SIZE,
  /** Replaced after training by 1 / std of the training latents (diffusers' convention). */
  scaling_factor: 1,
  force_upcast: false,
  norm_num_groups: 8,
};

/** Token width of the UNet's cross-attention, the image embedding and the face tokens. */
export const MINI_TOKEN_DIM = 128;

/**
 * The image encoder in place of CLIP ViT-H/14 (a deviation: CLIP does not know this domain and is 630 M
 * parameters): a CLIP vision transformer at 64x64 with 8x8 patches, trained contrastively on frames.
 */
export const MINI_IMAGE_ENCODER_CONFIG = {
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_channels: 3,
  image_size: 64,
  patch_size: 8,
  projection_dim: MINI_TOKEN_DIM,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-5,
};

/** The StableAnimator UNet (SVD's spatio-temporal UNet + ID-Adapters) at widths 64..128, one layer per block. */
export const MINI_UNET_CONFIG = {
  sample_size: MINI_SIZE / 8,
  in_channels: 8,
  out_channels: 4,
  down_block_types: ['CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'DownBlockSpatioTemporal'],
  up_block_types: ['UpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal'],
  block_out_channels: [64, 128, 128, 128],
  addition_time_embed_dim: 32,
  projection_class_embeddings_input_dim: 96,
  layers_per_block: 1,
  cross_attention_dim: MINI_TOKEN_DIM,
  transformer_layers_per_block: 1,
  num_attention_heads: [2, 4, 4, 4],
  num_frames: MINI_FRAMES,
};

/** Face tokens of the Face Encoder (as the released model). */
export const MINI_FACE_TOKENS = 4;

// Stable Video Diffusion models: the spatio-temporal UNet and the temporal-decoder VAE, config-driven
// like diffusers, with StableAnimator's hooks (pose latents, face tokens, attn2 processors).
export {
  UNetSpatioTemporalConditionModel, UNET_DEFAULT_CONFIG,
  type UNetSpatioTemporalConfig, type UNetOptions, type UNetForwardOptions,
} from './unet.ts';
export { AutoencoderKLTemporalDecoder, VAE_DEFAULT_CONFIG, type AutoencoderTemporalConfig } from './autoencoder.ts';
export { DiagonalGaussianDistribution } from './gaussian.ts';
export { Attention, DEFAULT_MAX_SCORE_ELEMENTS, type AttentionProcessor, type AttentionConfig } from './attention.ts';
export { FeedForward, GEGLU, DEFAULT_FF_CHUNK_ELEMENTS } from './feed-forward.ts';
export { setMemoryLimits, type MemoryLimits } from './memory-limits.ts';
export { BasicTransformerBlock } from './transformer-block.ts';
export { TemporalBasicTransformerBlock } from './temporal-transformer-block.ts';
export { TransformerSpatioTemporalModel, type TransformerSpatioTemporalOptions } from './transformer-spatio-temporal.ts';
export { ResnetBlock2D } from './resnet-block.ts';
export { TemporalResnetBlock } from './temporal-resnet-block.ts';
export { SpatioTemporalResBlock, type FrameLayout } from './spatio-temporal-res-block.ts';
export { AlphaBlender, type MergeStrategy } from './alpha-blender.ts';
export { Timesteps, sinusoidalEmbedding } from './timesteps.ts';
export { TimestepEmbedding } from './timestep-embedding.ts';
export { Downsample2D } from './downsample.ts';
export { Upsample2D } from './upsample.ts';
export { Encoder } from './vae-encoder.ts';
export { TemporalDecoder } from './temporal-decoder.ts';
export { loadPretrained, loadWeights, readModelConfig, findWeightFiles, type PretrainedOptions } from './pretrained.ts';

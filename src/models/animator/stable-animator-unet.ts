// StableAnimator's denoising UNet (`animation/modules/unet.py` as assembled by `inference_basic.py`): the
// SVD spatio-temporal UNet with
//   - the encoder states [CLIP token, 4 face tokens]: the temporal blocks drop the trailing face tokens
//     (`numFaceTokens`), the spatial blocks see all five;
//   - a distribution-aware ID-Adapter (`IdAdapterProcessor`) on every spatial cross-attention (attn2; 16 in
//     SVD-xt), its `id_to_k`/`id_to_v` started as copies of that layer's `to_k`/`to_v`;
//   - PoseNet features added to the conv_in output (`poseLatents` of the forward options).
// The state dict is exactly `Animation/unet.pth`: SVD's names plus 32 `...attn2.processor.id_to_{k,v}.weight`.
import { existsSync, statSync } from 'node:fs';
import type { Device, DType } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { UNetSpatioTemporalConditionModel, UNET_DEFAULT_CONFIG, type UNetSpatioTemporalConfig } from '../svd/unet.ts';
import { findWeightFiles, loadWeights, readModelConfig } from '../svd/pretrained.ts';
import { knownFields } from '../config.ts';
import { idAdapterFromAttention } from './id-adapter.ts';

/** Face tokens of the Face Encoder appended to the CLIP token (4 in every released model). */
export const NUM_FACE_TOKENS = 4;

export interface StableAnimatorUNetOptions {
  numFaceTokens?: number;
  /** Weight of the aligned face branch in every ID-Adapter (1.0 in the reference). */
  idScale?: number;
  /** Distribution alignment of the face branch in every ID-Adapter (true; false: the paper's ablation). */
  alignDistribution?: boolean;
}

export interface StableAnimatorUNetLoadOptions extends StableAnimatorUNetOptions {
  /**
   * The UNet config: an object, or a diffusers model folder holding config.json (SVD-xt's `unet/`).
   * Default: SVD-xt's (UNET_DEFAULT_CONFIG).
   */
  config?: Partial<UNetSpatioTemporalConfig> | string;
  dtype?: DType;
  device?: Device;
}

export class StableAnimatorUNet extends UNetSpatioTemporalConditionModel {
  readonly idScale: number;
  readonly alignDistribution: boolean;

  constructor(config: Partial<UNetSpatioTemporalConfig> = {}, opts: StableAnimatorUNetOptions = {}) {
    const numFaceTokens = opts.numFaceTokens ?? NUM_FACE_TOKENS;
    super(config, { numFaceTokens });
    this.idScale = opts.idScale ?? 1.0;
    this.alignDistribution = opts.alignDistribution ?? true;
    this.setSpatialCrossAttentionProcessors((attn) =>
      idAdapterFromAttention(attn, numFaceTokens, { scale: this.idScale, alignDistribution: this.alignDistribution }));
  }

  /** From a diffusers config object (unknown fields such as _class_name or num_tokens are ignored). */
  static override fromConfig(json: Record<string, unknown>, opts: StableAnimatorUNetOptions = {}): StableAnimatorUNet {
    return new StableAnimatorUNet(knownFields(json, UNET_DEFAULT_CONFIG), opts);
  }

  /**
   * Loads a StableAnimator UNet strictly into a model built without memory: every key of the model present, none
   * extra, shapes equal (the error names all differences and the file), floating tensors converted to `dtype`
   * (default f32); eval mode. `path` is the released `unet.pth` (or a .safetensors, or a list of shards), whose
   * config is `opts.config` (default SVD-xt's), or a diffusers-layout folder (config.json +
   * diffusion_pytorch_model[.fp16].safetensors), whose config.json is used unless `opts.config` is given.
   */
  static override fromPretrained(path: string | string[], opts: StableAnimatorUNetLoadOptions & { variant?: 'fp16' } = {}): StableAnimatorUNet {
    const folder = typeof path === 'string' && existsSync(path) && statSync(path).isDirectory();
    const files = folder ? findWeightFiles(path, opts.variant) : path;
    const source = opts.config ?? (folder ? path : {});
    const config = typeof source === 'string' ? readModelConfig(source, 'UNetSpatioTemporalConditionModel') : source;
    const model = nn.withInit({ device: 'meta' }, () => StableAnimatorUNet.fromConfig(config as Record<string, unknown>, opts));
    loadWeights(model, files, { dtype: opts.dtype, device: opts.device });
    return model.eval();
  }
}

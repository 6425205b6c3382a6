// StableAnimator's global content-aware face encoder (`id_encoder.py` FusionFaceId): the ArcFace
// embedding is projected to `numTokens` face tokens, which a Perceiver then refines by attending
// to the CLIP image embedding of the whole reference image. Keys as in `face_encoder.pth`.
// `refine: false` drops the Perceiver (the paper's "w/o Face Encoder" ablation): the tokens are norm(proj(id)).
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { headerDim, readCheckpointHeader } from '../../torch/serialization/index.ts';
import { loadCheckpointInto, type CheckpointOptions } from '../checkpoint.ts';
import { FacePerceiver } from './perceiver.ts';

export interface FusionFaceIdConfig {
  /** Token width = the UNet's cross-attention width (1024). */
  crossAttentionDim: number;
  /** ArcFace embedding width (512). */
  idEmbeddingsDim: number;
  /** CLIP image-embedding width (1024). */
  clipEmbeddingsDim: number;
  numTokens: number;
}

export interface FusionFaceIdOptions {
  /**
   * Refine the face tokens with the Perceiver over the CLIP embedding (true, the released model). False:
   * no `fusion_model` at all, so the state dict holds only proj.* and norm.* and a trainer sees no unused weights.
   */
  refine?: boolean;
}

export const FACE_ENCODER_CONFIG: FusionFaceIdConfig = { crossAttentionDim: 1024, idEmbeddingsDim: 512, clipEmbeddingsDim: 1024, numTokens: 4 };

export class FusionFaceId extends nn.Module {
  /** Linear(id, 2·id) -> GELU -> Linear(2·id, tokens·cross). */
  proj: nn.Sequential;
  norm: nn.LayerNorm;
  fusion_model?: FacePerceiver;
  readonly config: FusionFaceIdConfig;
  readonly refine: boolean;

  constructor(crossAttentionDim = 1024, idEmbeddingsDim = 512, clipEmbeddingsDim = 1024, numTokens = 4, opts: FusionFaceIdOptions = {}) {
    super();
    this.config = { crossAttentionDim, idEmbeddingsDim, clipEmbeddingsDim, numTokens };
    this.refine = opts.refine ?? true;
    this.proj = new nn.Sequential([
      new nn.Linear(idEmbeddingsDim, idEmbeddingsDim * 2),
      new nn.GELU(),
      new nn.Linear(idEmbeddingsDim * 2, crossAttentionDim * numTokens),
    ]);
    this.norm = new nn.LayerNorm(crossAttentionDim);
    if (!this.refine) return;
    // depth, head width and feed-forward multiple are fixed in the reference, not constructor arguments
    this.fusion_model = new FacePerceiver({
      dim: crossAttentionDim, depth: 4, dimHead: 64, heads: Math.floor(crossAttentionDim / 64),
      embeddingDim: clipEmbeddingsDim, outputDim: crossAttentionDim, ffMult: 4,
    });
  }

  /** The face tokens before the Perceiver: norm(proj(id)) as [B, numTokens, crossAttentionDim]. */
  faceTokens(idEmbeds: Tensor): Tensor {
    const { numTokens, crossAttentionDim } = this.config;
    return torch.scope(() => this.norm.forward(this.proj.forward(idEmbeds).reshape([-1, numTokens, crossAttentionDim])));
  }

  /**
   * idEmbeds: [B, idEmbeddingsDim] (raw, un-normalised ArcFace embedding); clipEmbeds: [B, Lc,
   * clipEmbeddingsDim] (the projected CLIP image embedding, Lc = 1) -> [B, numTokens, crossAttentionDim].
   * The reference's `shortcut` option is off everywhere, so the output is the Perceiver's alone; without
   * refinement it is faceTokens(idEmbeds) (clipEmbeds still checked, so both variants take the same inputs).
   */
  forward(idEmbeds: Tensor, clipEmbeds: Tensor): Tensor {
    if (idEmbeds.ndim !== 2 || idEmbeds.size(1) !== this.config.idEmbeddingsDim) {
      throw new Error(`FusionFaceId: idEmbeds must be [B, ${this.config.idEmbeddingsDim}], got [${idEmbeds.shape}]`);
    }
    if (clipEmbeds.ndim !== 3 || clipEmbeds.size(2) !== this.config.clipEmbeddingsDim) {
      throw new Error(`FusionFaceId: clipEmbeds must be [B, L, ${this.config.clipEmbeddingsDim}], got [${clipEmbeds.shape}]`);
    }
    const fusion = this.fusion_model;
    if (!fusion) return this.faceTokens(idEmbeds);
    return torch.scope(() => fusion.forward(this.faceTokens(idEmbeds), clipEmbeds));
  }

  /** The constructor's arguments from a state dict's shapes (the released file: 1024, 512, 1024, 4). */
  static configFromHeader(header: Map<string, { shape: number[] }>, file = 'face encoder'): FusionFaceIdConfig {
    const crossAttentionDim = headerDim(header, 'norm.weight', 0, file);
    return {
      idEmbeddingsDim: headerDim(header, 'proj.0.weight', 1, file), crossAttentionDim,
      numTokens: headerDim(header, 'proj.2.weight', 0, file) / crossAttentionDim,
      clipEmbeddingsDim: headerDim(header, 'fusion_model.proj_in.weight', 1, file),
    };
  }

  /**
   * Loads `face_encoder.pth` (or a .safetensors with its keys): built on 'meta' at the sizes its header gives
   * (or `config`), loaded strictly, eval mode.
   */
  static fromPretrained(path: string, opts: CheckpointOptions & FusionFaceIdOptions & { config?: FusionFaceIdConfig } = {}): FusionFaceId {
    const c = opts.config ?? FusionFaceId.configFromHeader(readCheckpointHeader(path), path);
    const model = nn.withInit({ device: 'meta' }, () =>
      new FusionFaceId(c.crossAttentionDim, c.idEmbeddingsDim, c.clipEmbeddingsDim, c.numTokens, { refine: opts.refine }));
    return loadCheckpointInto(model, path, opts);
  }
}

// StableAnimator's global content-aware face encoder (`id_encoder.py` FusionFaceId): the ArcFace
// embedding is projected to `numTokens` face tokens, which a Perceiver then refines by attending
// to the CLIP image embedding of the whole reference image. Keys as in `face_encoder.pth`.
// `refine: false` drops the Perceiver (the paper's "w/o Face Encoder" ablation): the tokens are norm(proj(id)).
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { headerDim, readCheckpointHeader } from '../../torch/serialization/index.ts';
import { loadCheckpointInto, type CheckpointOptions } from '../checkpoint.ts';
import { knownFields } from '../config.ts';
import { FacePerceiver } from './perceiver.ts';

export interface FusionFaceIdConfig {
  /** Token width = the UNet's cross-attention width (1024). */
  cross_attention_dim: number;
  /** ArcFace embedding width (512). */
  id_embeddings_dim: number;
  /** CLIP image-embedding width (1024). */
  clip_embeddings_dim: number;
  num_tokens: number;
}

export interface FusionFaceIdOptions {
  /**
   * Refine the face tokens with the Perceiver over the CLIP embedding (true, the released model). False:
   * no `fusion_model` at all, so the state dict holds only proj.* and norm.* and a trainer sees no unused weights.
   */
  refine?: boolean;
}

export const FACE_ENCODER_CONFIG: FusionFaceIdConfig = { cross_attention_dim: 1024, id_embeddings_dim: 512, clip_embeddings_dim: 1024, num_tokens: 4 };

export class FusionFaceId extends nn.Module {
  /** Linear(id, 2·id) -> GELU -> Linear(2·id, tokens·cross). */
  proj: nn.Sequential;
  norm: nn.LayerNorm;
  fusion_model?: FacePerceiver;
  readonly config: FusionFaceIdConfig;
  readonly refine: boolean;

  constructor(crossAttentionDim = 1024, idEmbeddingsDim = 512, clipEmbeddingsDim = 1024, numTokens = 4, opts: FusionFaceIdOptions = {}) {
    super();
    this.config = { cross_attention_dim: crossAttentionDim, id_embeddings_dim: idEmbeddingsDim, clip_embeddings_dim: clipEmbeddingsDim, num_tokens: numTokens };
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
      dim: crossAttentionDim, depth: 4, dim_head: 64, heads: Math.floor(crossAttentionDim / 64),
      embedding_dim: clipEmbeddingsDim, output_dim: crossAttentionDim, ff_mult: 4,
    });
  }

  /** The face tokens before the Perceiver: norm(proj(id)) as [B, numTokens, crossAttentionDim]. */
  faceTokens(idEmbeds: Tensor): Tensor {
    const { num_tokens, cross_attention_dim } = this.config;
    return torch.scope(() => this.norm.forward(this.proj.forward(idEmbeds).reshape([-1, num_tokens, cross_attention_dim])));
  }

  /**
   * idEmbeds: [B, idEmbeddingsDim] (raw, un-normalised ArcFace embedding); clipEmbeds: [B, Lc,
   * clipEmbeddingsDim] (the projected CLIP image embedding, Lc = 1) -> [B, numTokens, crossAttentionDim].
   * The reference's `shortcut` option is off everywhere, so the output is the Perceiver's alone; without
   * refinement it is faceTokens(idEmbeds) (clipEmbeds still checked, so both variants take the same inputs).
   */
  forward(idEmbeds: Tensor, clipEmbeds: Tensor): Tensor {
    if (idEmbeds.ndim !== 2 || idEmbeds.size(1) !== this.config.id_embeddings_dim) {
      throw new Error(`FusionFaceId: idEmbeds must be [B, ${this.config.id_embeddings_dim}], got [${idEmbeds.shape}]`);
    }
    if (clipEmbeds.ndim !== 3 || clipEmbeds.size(2) !== this.config.clip_embeddings_dim) {
      throw new Error(`FusionFaceId: clipEmbeds must be [B, L, ${this.config.clip_embeddings_dim}], got [${clipEmbeds.shape}]`);
    }
    const fusion = this.fusion_model;
    if (!fusion) return this.faceTokens(idEmbeds);
    return torch.scope(() => fusion.forward(this.faceTokens(idEmbeds), clipEmbeds));
  }

  /** The constructor's arguments from a state dict's shapes (the released file: 1024, 512, 1024, 4). */
  static configFromHeader(header: Map<string, { shape: number[] }>, file = 'face encoder'): FusionFaceIdConfig {
    const crossAttentionDim = headerDim(header, 'norm.weight', 0, file);
    return {
      id_embeddings_dim: headerDim(header, 'proj.0.weight', 1, file), cross_attention_dim: crossAttentionDim,
      num_tokens: headerDim(header, 'proj.2.weight', 0, file) / crossAttentionDim,
      clip_embeddings_dim: headerDim(header, 'fusion_model.proj_in.weight', 1, file),
    };
  }

  /** From a config object keyed as the reference's arguments (missing ones: the released model's; unknown ones ignored). */
  static fromConfig(json: Record<string, unknown>, opts: FusionFaceIdOptions = {}): FusionFaceId {
    const c = { ...FACE_ENCODER_CONFIG, ...knownFields(json, FACE_ENCODER_CONFIG) };
    return new FusionFaceId(c.cross_attention_dim, c.id_embeddings_dim, c.clip_embeddings_dim, c.num_tokens, opts);
  }

  /**
   * Loads `face_encoder.pth` (or a .safetensors with its keys): built on 'meta' at the sizes its header gives
   * (or `config`), loaded strictly, eval mode.
   */
  static fromPretrained(path: string, opts: CheckpointOptions & FusionFaceIdOptions & { config?: FusionFaceIdConfig } = {}): FusionFaceId {
    const c = opts.config ?? FusionFaceId.configFromHeader(readCheckpointHeader(path), path);
    const model = nn.withInit({ device: 'meta' }, () => FusionFaceId.fromConfig({ ...c }, { refine: opts.refine }));
    return loadCheckpointInto(model, path, opts);
  }
}

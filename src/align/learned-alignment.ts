// The learnable SVD-guided alignment block (paper Sec. III-A, eqs. 1, 8-11):
//   E1 (pose_encoder)   transformer encoder over per-keypoint tokens [reference ; driven]       (eq. 1)
//   E2 (guide_encoder)  the same architecture over the SVD-aligned intermediate pose            (eq. 8)
//   Pose Fusion Block   fusion_blocks: cross-attention E1 -> E2 + FFN, repeated                 (eq. 9)
//   MLP head            pooled over the visible tokens -> per frame [θ, log s, tx, ty]          (eq. 10)
// The predicted transform is a residual correction applied on top of the SVD transform
// (residual-similarity.ts); the head's last layer starts at zero, so an untrained block returns exactly the
// SVD result. Frames are the batch dimension.
//
// A model is its config (config.json, constructor arguments by name) plus its state dict (model.safetensors).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import { readSafetensors } from '../torch/serialization/index.ts';
import { NUM_BODY } from '../pose/keypoints.ts';
import { GUIDE_FEATURES, TOKEN_FEATURES } from './alignment-features.ts';
import type { AlignmentTensors } from './alignment-features.ts';
import { CORRECTION_PARAMS, applyCorrection, aspectToNormalized } from './residual-similarity.ts';
import { PoseEncoder, PoseFusionLayer } from './transformer-layers.ts';

export interface LearnedAlignmentConfig {
  /** Tokens per pose (18 = the OpenPose body). */
  num_keypoints: number;
  hidden_size: number;
  num_attention_heads: number;
  /** FFN width of every encoder and fusion layer. */
  intermediate_size: number;
  /** Layers of E1 and of E2 (each: self-attention + FFN). */
  encoder_layers: number;
  /** Modules of the Pose Fusion Block (each: cross-attention + FFN). */
  fusion_layers: number;
}

export const DEFAULT_ALIGNMENT_CONFIG: LearnedAlignmentConfig = {
  num_keypoints: NUM_BODY,
  hidden_size: 64,
  num_attention_heads: 4,
  intermediate_size: 128,
  encoder_layers: 2,
  fusion_layers: 4,
};

export const ALIGNMENT_CONFIG_FILE = 'config.json';
export const ALIGNMENT_WEIGHTS_FILE = 'model.safetensors';

export function parseAlignmentConfig(value: unknown, source = 'config'): LearnedAlignmentConfig {
  if (typeof value !== 'object' || value === null) throw new Error(`${source}: expected a JSON object`);
  const v = value as Record<string, unknown>;
  const out = { ...DEFAULT_ALIGNMENT_CONFIG };
  for (const key of Object.keys(DEFAULT_ALIGNMENT_CONFIG) as (keyof LearnedAlignmentConfig)[]) {
    if (v[key] === undefined) continue;
    const n = v[key];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new Error(`${source}: "${key}" must be a positive integer, got ${JSON.stringify(n)}`);
    out[key] = n;
  }
  return out;
}

/** The shipped alignment block (trained on the real motion data by `align train`). */
export const DEFAULT_ALIGN_WEIGHTS = fileURLToPath(new URL('../../weights/align', import.meta.url));

export class LearnedAlignment extends nn.Module {
  readonly config: LearnedAlignmentConfig;
  pose_encoder: PoseEncoder;
  guide_encoder: PoseEncoder;
  fusion_blocks: nn.ModuleList<PoseFusionLayer>;
  norm_out: nn.LayerNorm;
  head: nn.Sequential;

  constructor(config: Partial<LearnedAlignmentConfig> = {}) {
    super();
    const c = { ...DEFAULT_ALIGNMENT_CONFIG, ...config };
    this.config = c;
    const d = c.hidden_size;
    this.pose_encoder = new PoseEncoder(TOKEN_FEATURES, c.num_keypoints, d, c.num_attention_heads, c.intermediate_size, c.encoder_layers);
    this.guide_encoder = new PoseEncoder(GUIDE_FEATURES, c.num_keypoints, d, c.num_attention_heads, c.intermediate_size, c.encoder_layers);
    this.fusion_blocks = new nn.ModuleList(
      Array.from({ length: c.fusion_layers }, () => new PoseFusionLayer(d, c.num_attention_heads, c.intermediate_size)),
    );
    this.norm_out = new nn.LayerNorm(d);
    this.head = new nn.Sequential([new nn.Linear(d, d), new nn.GELU(), new nn.Linear(d, CORRECTION_PARAMS)]);
    // Zero residual at initialisation: the block starts as the SVD fit.
    const last = this.head.at(2) as nn.Linear;
    torch.noGrad(() => { last.weight.zero_(); last.bias!.zero_(); });
  }

  /** Per frame [θ, log s, tx, ty]: [B, 4]. */
  forward(inputs: Pick<AlignmentTensors, 'tokens' | 'guide' | 'tokenMask' | 'guideMask'>): Tensor {
    const k = this.config.num_keypoints;
    if (inputs.tokens.ndim !== 3 || inputs.tokens.size(1) !== k || inputs.tokens.size(2) !== TOKEN_FEATURES) {
      throw new Error(`LearnedAlignment: tokens must be [B, ${k}, ${TOKEN_FEATURES}], got [${inputs.tokens.shape}]`);
    }
    const motion = this.pose_encoder.forward(inputs.tokens, inputs.tokenMask);        // E1, eq. 1
    const guide = this.guide_encoder.forward(inputs.guide, inputs.guideMask);          // E2 over the SVD pose
    let x = motion;
    for (const block of this.fusion_blocks) x = block.forward(x, guide, inputs.guideMask); // eq. 9
    // Mean over the present tokens (a missing token's features never reach the head).
    const m = inputs.tokenMask.unsqueeze(2);
    const pooled = this.norm_out.forward(x).mul(m).sum([1]).div(m.sum([1]).clampMin(1));
    return this.head.forward(pooled);                                                  // eq. 10
  }

  /** Forward + the correction applied to the SVD-aligned points: aligned keypoints, normalised [B, K, 2]. */
  alignPoints(inputs: AlignmentTensors): { params: Tensor; aligned: Tensor } {
    const params = this.forward(inputs);
    const aligned = aspectToNormalized(applyCorrection(params, inputs.svdPoints, inputs.centres), inputs.aspectToNorm);
    return { params, aligned };
  }

  /** From a config.json object (snake_case keys; missing ones: DEFAULT_ALIGNMENT_CONFIG). */
  static fromConfig(json: Record<string, unknown>, source?: string): LearnedAlignment {
    return new LearnedAlignment(parseAlignmentConfig(json, source));
  }

  /** Reads `config.json` and `model.safetensors` from a folder. */
  static fromPretrained(dir: string): LearnedAlignment {
    const configPath = join(dir, ALIGNMENT_CONFIG_FILE);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new Error(`LearnedAlignment.fromPretrained: cannot read ${configPath}: ${(err as Error).message}`);
    }
    const model = LearnedAlignment.fromConfig(raw as Record<string, unknown>, configPath);
    const weightsPath = join(dir, ALIGNMENT_WEIGHTS_FILE);
    const state = new Map<string, Tensor>();
    for (const [k, t] of readSafetensors(weightsPath)) state.set(k, torch.fromRaw(t));
    model.loadStateDict(state, { source: weightsPath });
    return model.eval();
  }
}

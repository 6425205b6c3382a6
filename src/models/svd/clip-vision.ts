// CLIP's vision tower with its projection (transformers' CLIPVisionModelWithProjection, eager attention):
// SVD's image encoder, ViT-H/14 in SVD-xt. State-dict keys are transformers' own
// (`vision_model.encoder.layers.0.self_attn.q_proj.weight`, `visual_projection.weight`, and the
// misspelt `vision_model.pre_layrnorm`), so released checkpoints load as they are.
//
//   x   = [CLS, patches(conv k=s=patch)] + positions;  x = pre_layrnorm(x)
//   x   = layers(x)              pre-norm blocks: x += attn(ln1(x)); x += mlp(ln2(x))
//   lastHiddenState = x          (before post_layernorm, as transformers returns it)
//   imageEmbeds = visual_projection(post_layernorm(x[:, 0]))
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../../torch/index.ts';
import type { Device, DType, Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { readSafetensors, readSafetensorsHeader } from '../../torch/serialization/index.ts';
import { loadWeights, readModelConfig } from './pretrained.ts';

export type ClipActivation = 'gelu' | 'quick_gelu' | 'gelu_new' | 'gelu_pytorch_tanh';

export interface ClipVisionConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_channels: number;
  image_size: number;
  patch_size: number;
  projection_dim: number;
  hidden_act: ClipActivation;
  layer_norm_eps: number;
}

/** transformers' CLIPVisionConfig defaults (ViT-B/32). */
export const CLIP_VISION_DEFAULTS: ClipVisionConfig = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  num_channels: 3,
  image_size: 224,
  patch_size: 32,
  projection_dim: 512,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};

/** SVD-xt's image encoder: OpenCLIP ViT-H/14. */
export const CLIP_VIT_H14: ClipVisionConfig = {
  hidden_size: 1280,
  intermediate_size: 5120,
  num_hidden_layers: 32,
  num_attention_heads: 16,
  num_channels: 3,
  image_size: 224,
  patch_size: 14,
  projection_dim: 1024,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-5,
};

/** Reads a transformers `config.json` (a vision config, or a full CLIPConfig with `vision_config`). */
export function clipVisionConfigFromJson(json: Record<string, unknown>): ClipVisionConfig {
  const src = (json.vision_config ?? json) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...CLIP_VISION_DEFAULTS };
  for (const [key, value] of Object.entries(src)) {
    if (key in CLIP_VISION_DEFAULTS && value !== null && value !== undefined) out[key] = value;
  }
  // the projection size lives at the top level of a full CLIPConfig
  if (json.vision_config && typeof json.projection_dim === 'number') out.projection_dim = json.projection_dim;
  const config = out as unknown as ClipVisionConfig;
  if (!['gelu', 'quick_gelu', 'gelu_new', 'gelu_pytorch_tanh'].includes(config.hidden_act)) {
    throw new Error(`CLIP vision config: unsupported hidden_act '${config.hidden_act}'`);
  }
  if (config.hidden_size % config.num_attention_heads) {
    throw new Error(`CLIP vision config: hidden_size ${config.hidden_size} not divisible by ${config.num_attention_heads} heads`);
  }
  return config;
}

function activate(x: Tensor, act: ClipActivation): Tensor {
  if (act === 'gelu') return torch.gelu(x);
  if (act === 'quick_gelu') return torch.scope(() => x.mul(x.mul(1.702).sigmoid()));
  return torch.gelu(x, 'tanh');
}

export class ClipVisionEmbeddings extends nn.Module {
  class_embedding: Tensor;
  patch_embedding: nn.Conv2d;
  position_embedding: nn.Embedding;

  constructor(readonly config: ClipVisionConfig) {
    super();
    const { hidden_size: d, patch_size: p, image_size: imageSize, num_channels: numChannels } = config;
    this.class_embedding = nn.parameter(nn.init.normal([d], 1));
    this.patch_embedding = new nn.Conv2d(numChannels, d, p, { stride: p, bias: false });
    this.position_embedding = new nn.Embedding((Math.floor(imageSize / p) ** 2) + 1, d);
  }

  /** [B, C, H, W] -> [B, 1 + patches, D]. */
  forward(pixelValues: Tensor): Tensor {
    return torch.scope(() => {
      const b = pixelValues.size(0);
      const patches = this.patch_embedding.forward(pixelValues.to(this.patch_embedding.weight.dtype)).flatten(2).transpose(1, 2);
      const positions = this.position_embedding.weight;
      if (patches.size(1) + 1 !== positions.size(0)) {
        throw new Error(`CLIP vision: ${patches.size(1)} patches for ${positions.size(0) - 1} positions (input [${pixelValues.shape}], image size ${this.config.image_size})`);
      }
      const cls = this.class_embedding.expand([b, 1, -1]);
      return torch.cat([cls, patches], 1).add(positions);
    });
  }
}

export class ClipAttention extends nn.Module {
  // declaration order = transformers' module order (k, v, q, out)
  k_proj: nn.Linear;
  v_proj: nn.Linear;
  q_proj: nn.Linear;
  out_proj: nn.Linear;
  readonly heads: number;
  readonly headDim: number;

  constructor(config: ClipVisionConfig) {
    super();
    const d = config.hidden_size;
    this.heads = config.num_attention_heads;
    this.headDim = d / this.heads;
    this.k_proj = new nn.Linear(d, d);
    this.v_proj = new nn.Linear(d, d);
    this.q_proj = new nn.Linear(d, d);
    this.out_proj = new nn.Linear(d, d);
  }

  forward(x: Tensor): Tensor {
    return torch.scope(() => {
      const [b, l] = x.shape as [number, number, number];
      const split = (t: Tensor) => t.view([b, l, this.heads, this.headDim]).transpose(1, 2);
      const q = split(this.q_proj.forward(x));
      const k = split(this.k_proj.forward(x));
      const v = split(this.v_proj.forward(x));
      const o = nn.scaledDotProductAttention(q, k, v, { scale: this.headDim ** -0.5 });
      return this.out_proj.forward(o.transpose(1, 2).reshape([b, l, this.heads * this.headDim]));
    });
  }
}

export class ClipMlp extends nn.Module {
  fc1: nn.Linear;
  fc2: nn.Linear;
  constructor(readonly config: ClipVisionConfig) {
    super();
    this.fc1 = new nn.Linear(config.hidden_size, config.intermediate_size);
    this.fc2 = new nn.Linear(config.intermediate_size, config.hidden_size);
  }
  forward(x: Tensor): Tensor {
    return torch.scope(() => this.fc2.forward(activate(this.fc1.forward(x), this.config.hidden_act)));
  }
}

export class ClipEncoderLayer extends nn.Module {
  self_attn: ClipAttention;
  layer_norm1: nn.LayerNorm;
  mlp: ClipMlp;
  layer_norm2: nn.LayerNorm;
  constructor(config: ClipVisionConfig) {
    super();
    this.self_attn = new ClipAttention(config);
    this.layer_norm1 = new nn.LayerNorm(config.hidden_size, config.layer_norm_eps);
    this.mlp = new ClipMlp(config);
    this.layer_norm2 = new nn.LayerNorm(config.hidden_size, config.layer_norm_eps);
  }
  forward(x: Tensor): Tensor {
    return torch.scope(() => {
      const h = x.add(this.self_attn.forward(this.layer_norm1.forward(x)));
      return h.add(this.mlp.forward(this.layer_norm2.forward(h)));
    });
  }
}

export class ClipEncoder extends nn.Module {
  layers: nn.ModuleList<ClipEncoderLayer>;
  constructor(config: ClipVisionConfig) {
    super();
    this.layers = new nn.ModuleList(Array.from({ length: config.num_hidden_layers }, () => new ClipEncoderLayer(config)));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.layers) {
      const next = layer.forward(h);
      if (h !== x) h.dispose();
      h = next;
    }
    return h;
  }
}

export class ClipVisionTransformer extends nn.Module {
  embeddings: ClipVisionEmbeddings;
  pre_layrnorm: nn.LayerNorm;
  encoder: ClipEncoder;
  post_layernorm: nn.LayerNorm;
  constructor(config: ClipVisionConfig) {
    super();
    this.embeddings = new ClipVisionEmbeddings(config);
    this.pre_layrnorm = new nn.LayerNorm(config.hidden_size, config.layer_norm_eps);
    this.encoder = new ClipEncoder(config);
    this.post_layernorm = new nn.LayerNorm(config.hidden_size, config.layer_norm_eps);
  }
  /** Returns the last hidden state [B, L, D] (before post_layernorm) and the pooled CLS token [B, D] (after it). */
  forward(pixelValues: Tensor): { lastHiddenState: Tensor; pooledOutput: Tensor } {
    return torch.scope(() => {
      const h = this.pre_layrnorm.forward(this.embeddings.forward(pixelValues));
      const lastHiddenState = this.encoder.forward(h);
      const pooledOutput = this.post_layernorm.forward(lastHiddenState.select(1, 0));
      return { lastHiddenState, pooledOutput };
    });
  }
}

export interface ClipVisionOutput {
  /** [B, projectionDim]: the projected, post-normed CLS token (SVD's image conditioning). */
  imageEmbeds: Tensor;
  /** [B, 1 + patches, hiddenSize], before post_layernorm. */
  lastHiddenState: Tensor;
}

export interface ClipFromPretrainedOptions {
  /** Parameter dtype; default 'f32'. With 'f16', `model.fp16.safetensors` is preferred when present. */
  dtype?: DType;
  device?: Device;
}

export class CLIPVisionModelWithProjection extends nn.Module {
  vision_model: ClipVisionTransformer;
  visual_projection: nn.Linear;

  constructor(readonly config: ClipVisionConfig = CLIP_VIT_H14) {
    super();
    this.vision_model = new ClipVisionTransformer(config);
    this.visual_projection = new nn.Linear(config.hidden_size, config.projection_dim, { bias: false });
    this.eval();
  }

  /** pixelValues: CLIP-normalised [B, 3, imageSize, imageSize] (see `clipPreprocess`). */
  forward(pixelValues: Tensor): ClipVisionOutput {
    return torch.scope(() => {
      const { lastHiddenState, pooledOutput } = this.vision_model.forward(pixelValues);
      return { imageEmbeds: this.visual_projection.forward(pooledOutput), lastHiddenState };
    });
  }

  /** From a transformers config.json object (a vision config, or a full CLIPConfig with `vision_config`). */
  static fromConfig(json: Record<string, unknown>): CLIPVisionModelWithProjection {
    return new CLIPVisionModelWithProjection(clipVisionConfigFromJson(json));
  }

  /**
   * Loads a transformers folder: `config.json` and `model.safetensors` (or `model.fp16.safetensors`).
   * The model is built on 'meta' and adopts the loaded tensors, so the weights exist once in memory.
   */
  static fromPretrained(dir: string, opts: ClipFromPretrainedOptions = {}): CLIPVisionModelWithProjection {
    const dtype = opts.dtype ?? 'f32';
    const json = readModelConfig(dir, 'CLIPVisionModelWithProjection');
    const names = dtype === 'f16' ? ['model.fp16.safetensors', 'model.safetensors'] : ['model.safetensors', 'model.fp16.safetensors'];
    const file = names.map((n) => join(dir, n)).find((p) => existsSync(p));
    if (!file) throw new Error(`CLIPVisionModelWithProjection.fromPretrained: no ${names.join(' or ')} in ${dir}`);
    const model = nn.withInit({ device: 'meta', dtype }, () => CLIPVisionModelWithProjection.fromConfig(json));
    if (readSafetensorsHeader(file).tensors.has(POSITION_IDS)) loadSkippingPositionIds(model, file, dtype);
    else loadWeights(model, file, { dtype });
    if (opts.device && opts.device !== 'cpu') model.to(opts.device);
    return model.eval();
  }
}

/** A non-persistent buffer (arange) that checkpoints written by older transformers still carry. */
const POSITION_IDS = 'vision_model.embeddings.position_ids';

/** Loads every tensor of the file but `position_ids`, converted to `dtype`. */
function loadSkippingPositionIds(model: nn.Module, file: string, dtype: DType): void {
  const names = [...readSafetensorsHeader(file).tensors.keys()].filter((k) => k !== POSITION_IDS);
  const state = new Map<string, Tensor>();
  for (const [key, raw] of readSafetensors(file, { names })) {
    const t = torch.fromRaw(raw);
    if (t.dtype === dtype) {
      state.set(key, t);
    } else {
      state.set(key, t.to(dtype));
      t.dispose();
    }
  }
  model.loadStateDict(state, { assign: true, source: file });
}

// InceptionI3d (Carreira & Zisserman 2017) as in piergiaj/pytorch-i3d, the network FVD code runs:
// Conv3d_1a_7x7 (stride 2) -> MaxPool3d_2a_3x3 -> Conv3d_2b_1x1 -> Conv3d_2c_3x3 -> MaxPool3d_3a_3x3 ->
// Mixed_3b, 3c -> MaxPool3d_4a_3x3 -> Mixed_4b..4f -> MaxPool3d_5a_2x2 -> Mixed_5b, 5c -> AvgPool3d
// [2, 7, 7] stride 1 (no padding) -> dropout (inactive in eval) -> logits (1x1x1 conv with bias).
// Inputs [N, 3, T, H, W] in [-1, 1]; at 224x224 and 16 frames the pooled output is [N, 1024, 1, 1, 1].
// Keys are pytorch-i3d's (`rgb_imagenet.pt`, `rgb_charades.pt`, VideoGPT's `i3d_pretrained_400.pt`).
// `channelDivisor` narrows every layer (c -> max(1, floor(c / divisor))) for small test networks.

import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { readStateDict } from '../checkpoint.ts';
import { knownFields } from '../config.ts';
import { InceptionModule, inceptionOutChannels, type InceptionWidths } from './inception-module.ts';
import { maxPool3dSame, type Triple } from './same-padding.ts';
import { Unit3D } from './unit3d.ts';

export interface I3DConfig {
  /** Logit classes: 400 (Kinetics, rgb_imagenet.pt) or 157 (Charades). */
  num_classes: number;
  in_channels: number;
  /** 1 for the released network. */
  channel_divisor: number;
  /** BatchNorm epsilon: pytorch-i3d uses 1e-3 (as the TF original); VideoGPT's copy builds with 1e-5. */
  bn_eps: number;
}

export const I3D_DEFAULT: I3DConfig = { num_classes: 400, in_channels: 3, channel_divisor: 1, bn_eps: 1e-3 };

/** The Mixed_* widths of the released network, [b0, b1a, b1b, b2a, b2b, b3b]. */
const MIXED: [string, InceptionWidths][] = [
  ['Mixed_3b', [64, 96, 128, 16, 32, 32]],
  ['Mixed_3c', [128, 128, 192, 32, 96, 64]],
  ['Mixed_4b', [192, 96, 208, 16, 48, 64]],
  ['Mixed_4c', [160, 112, 224, 24, 64, 64]],
  ['Mixed_4d', [128, 128, 256, 24, 64, 64]],
  ['Mixed_4e', [112, 144, 288, 32, 64, 64]],
  ['Mixed_4f', [256, 160, 320, 32, 128, 128]],
  ['Mixed_5b', [256, 160, 320, 32, 128, 128]],
  ['Mixed_5c', [384, 192, 384, 48, 128, 128]],
];

/** The SAME max-pools that come before a layer, by that layer's name. */
const POOL_BEFORE: Record<string, [Triple, Triple]> = {
  Conv3d_2b_1x1: [[1, 3, 3], [1, 2, 2]], // MaxPool3d_2a_3x3
  Mixed_3b: [[1, 3, 3], [1, 2, 2]], // MaxPool3d_3a_3x3
  Mixed_4b: [[3, 3, 3], [2, 2, 2]], // MaxPool3d_4a_3x3
  Mixed_5b: [[2, 2, 2], [2, 2, 2]], // MaxPool3d_5a_2x2
};

export interface I3DOutput {
  /** The average-pooled Mixed_5c output [N, C, T', H', W'] (C = 1024 at full width). */
  pooled: Tensor;
  /** logits [N, classes, T', H', W']. */
  logits: Tensor;
}

export class InceptionI3d extends nn.Module {
  readonly config: I3DConfig;
  /** Layers in order, with their checkpoint names. */
  private readonly layers: [string, nn.Module & { forward(x: Tensor): Tensor }][] = [];
  logits: Unit3D;
  readonly featureChannels: number;

  constructor(config: Partial<I3DConfig> = {}) {
    super();
    const c = (this.config = { ...I3D_DEFAULT, ...config });
    const w = (n: number) => Math.max(1, Math.floor(n / c.channel_divisor));
    const add = (name: string, layer: nn.Module & { forward(x: Tensor): Tensor }) => {
      (this as unknown as Record<string, nn.Module>)[name] = layer;
      this.layers.push([name, layer]);
    };
    add('Conv3d_1a_7x7', new Unit3D(c.in_channels, w(64), { kernel: [7, 7, 7], stride: [2, 2, 2], bnEps: c.bn_eps }));
    add('Conv3d_2b_1x1', new Unit3D(w(64), w(64), { bnEps: c.bn_eps }));
    add('Conv3d_2c_3x3', new Unit3D(w(64), w(192), { kernel: [3, 3, 3], bnEps: c.bn_eps }));
    let channels = w(192);
    for (const [name, widths] of MIXED) {
      const scaled = widths.map(w) as InceptionWidths;
      add(name, new InceptionModule(channels, scaled, c.bn_eps));
      channels = inceptionOutChannels(scaled);
    }
    this.featureChannels = channels;
    this.logits = new Unit3D(channels, c.num_classes, { batchNorm: false, bias: true, relu: false });
  }

  /** Both heads of x [N, C, T, H, W] (T >= 9 and H, W >= 193, so that the [2, 7, 7] average pool fits). */
  forwardAll(x: Tensor): I3DOutput {
    if (x.ndim !== 5 || x.size(1) !== this.config.in_channels) {
      throw new Error(`InceptionI3d: expected input [N, ${this.config.in_channels}, T, H, W], got [${x.shape}]`);
    }
    return torch.scope(() => {
      let h = x;
      for (const [name, layer] of this.layers) {
        const pool = POOL_BEFORE[name];
        if (pool) h = maxPool3dSame(h, pool[0], pool[1]);
        h = layer.forward(h);
      }
      const [t, hh, ww] = h.shape.slice(2);
      if (t < 2 || hh < 7 || ww < 7) {
        throw new Error(`InceptionI3d: Mixed_5c output is ${t}x${hh}x${ww} (T x H x W), the final [2, 7, 7] average pool needs at least 2x7x7: input [${x.shape}] is too small (use >= 9 frames of >= 193 px; FVD uses 16 frames of 224x224)`);
      }
      const pooled = h.avgPool3d([2, 7, 7], [1, 1, 1]);
      return { pooled, logits: this.logits.forward(pooled) };
    });
  }

  forward(x: Tensor): Tensor {
    return this.forwardAll(x).logits;
  }

  /** From a config object (snake_case keys as I3DConfig; missing ones: I3D_DEFAULT; unknown ones ignored). */
  static fromConfig(json: Record<string, unknown>): InceptionI3d {
    return new InceptionI3d(knownFields(json, I3D_DEFAULT));
  }

  /**
   * Loads a pytorch-i3d state dict (.pt/.pth through the restricted unpickler, or .safetensors). The
   * width and class count are read from the tensors; `module.` prefixes (DataParallel) are dropped and
   * `num_batches_tracked` counters, absent from checkpoints saved before PyTorch 0.4.1, are filled with 0.
   */
  static fromPretrained(path: string, opts: { bnEps?: number } = {}): InceptionI3d {
    const state = new Map<string, Tensor>();
    for (const [k, t] of readStateDict(path)) state.set(k.replace(/^module\./, ''), t);
    const first = state.get('Conv3d_1a_7x7.conv3d.weight');
    const logits = state.get('logits.conv3d.weight');
    if (!first || !logits) {
      throw new Error(`${path}: expected a pytorch-i3d InceptionI3d state dict (Conv3d_1a_7x7.conv3d.weight, logits.conv3d.weight), found ${[...state.keys()].slice(0, 4).join(', ')}${state.size > 4 ? ', ...' : ''}`);
    }
    if (64 % first.shape[0] !== 0) throw new Error(`${path}: Conv3d_1a_7x7 has ${first.shape[0]} output channels; expected 64 or a divisor of it`);
    const config = { num_classes: logits.shape[0], in_channels: first.shape[1], channel_divisor: 64 / first.shape[0], ...(opts.bnEps === undefined ? {} : { bn_eps: opts.bnEps }) };
    const model = nn.withInit({ device: 'meta' }, () => InceptionI3d.fromConfig(config));
    for (const [key, t] of model.stateDict()) {
      if (key.endsWith('.num_batches_tracked') && !state.has(key)) state.set(key, torch.zeros([], t.dtype));
    }
    model.loadStateDict(state, { strict: true, assign: true, source: path });
    return model.eval().requiresGrad_(false);
  }
}

// FVD (Unterthiner et al. 2018): the Frechet distance between Gaussians fitted to I3D embeddings of
// generated and real clips. The convention (docs/eval.md):
//   - clips of 16 consecutive frames, starting every `stride` frames (default 16: non-overlapping);
//   - every frame resized to 224x224 (whole frame, no crop; PyTorch bilinear, half-pixel centres, no
//     antialias, as the PyTorch FVD ports call F.interpolate), scaled from [0, 1] to [-1, 1];
//   - the embedding is the 400 Kinetics logits of pytorch-i3d's InceptionI3d averaged over the output
//     positions (what the TF FVD and the VideoGPT-style PyTorch ports use), or with layer 'pool' the
//     1024-d average-pooled Mixed_5c features before the logits;
//   - d^2 = |mu_p - mu_g|^2 + tr(S_p + S_g - 2 (S_p S_g)^(1/2)) (frechet.ts).
// On one video pair the "distribution" is the handful of clips of one video: the number is a distance
// between two small clip sets, not a sample estimate of FVD as papers report it (those pool thousands of
// clips), and it needs at least 2 clips per side for a covariance.

import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import { InceptionI3d } from '../models/i3d/inception-i3d.ts';
import { featureStats, frechetDistance } from './frechet.ts';

export type I3DLayer = 'logits' | 'pool';

export interface FvdOptions {
  /** Embedding: 'logits' (400-d, default) or 'pool' (1024-d features before the logits). */
  layer?: I3DLayer;
  /** Frames per clip (16). */
  clipFrames?: number;
  /** Frames between clip starts (default clipFrames). */
  stride?: number;
  /** Side the frames are resized to (224). */
  size?: number;
}

/** Frames [T, 3, H, W] in [0, 1] -> I3D input [1, 3, T, h, w] in [-1, 1] (size: side, or [h, w]). */
export function i3dInput(frames: Tensor, size: number | [number, number] = 224): Tensor {
  return torch.scope(() => resizeFrames(frames, size).mul(2).sub(1).permute([1, 0, 2, 3]).unsqueeze(0).contiguous());
}

function resizeFrames(frames: Tensor, size: number | [number, number]): Tensor {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  return frames.size(2) === h && frames.size(3) === w ? frames : torch.interpolateBilinear(frames, [h, w], false);
}

/** The embedding [N, D] of I3D inputs [N, 3, T, H, W]: the chosen head averaged over T', H', W'. */
export function i3dEmbedding(model: InceptionI3d, input: Tensor, layer: I3DLayer = 'logits'): Tensor {
  return torch.scope(() => torch.noGrad(() => {
    const out = model.forwardAll(input);
    return (layer === 'logits' ? out.logits : out.pooled).mean([2, 3, 4]);
  }));
}

export interface FvdResult {
  value: number;
  /** Clips per side. */
  clips: number;
  clipFrames: number;
  stride: number;
  layer: I3DLayer;
  dims: number;
}

/**
 * Collects the I3D embeddings of paired prediction / ground-truth clips from frames pushed one at a time
 * (so a long video never sits in memory: only clipFrames resized frames per side are held).
 */
export class FvdAccumulator {
  readonly layer: I3DLayer;
  readonly clipFrames: number;
  readonly stride: number;
  readonly size: number;
  private pred: Tensor[] = [];
  private gt: Tensor[] = [];
  private skip = 0;
  readonly predEmbeddings: Float32Array[] = [];
  readonly gtEmbeddings: Float32Array[] = [];

  constructor(readonly model: InceptionI3d, opts: FvdOptions = {}) {
    this.layer = opts.layer ?? 'logits';
    this.clipFrames = opts.clipFrames ?? 16;
    this.stride = opts.stride ?? this.clipFrames;
    this.size = opts.size ?? 224;
    if (!(this.stride >= 1 && Number.isInteger(this.stride))) throw new Error(`FVD: stride must be a positive integer, got ${this.stride}`);
  }

  /** One frame of each video, [3, H, W] in [0, 1]. */
  push(pred: Tensor, gt: Tensor): void {
    if (this.skip > 0) {
      this.skip--; // frames between clips when stride > clipFrames
      return;
    }
    this.pred.push(torch.keep(torch.scope(() => resizeFrames(pred.unsqueeze(0), this.size).squeeze(0))));
    this.gt.push(torch.keep(torch.scope(() => resizeFrames(gt.unsqueeze(0), this.size).squeeze(0))));
    if (this.pred.length < this.clipFrames) return;
    this.predEmbeddings.push(this.embed(this.pred));
    this.gtEmbeddings.push(this.embed(this.gt));
    const drop = Math.min(this.stride, this.clipFrames);
    for (const t of [...this.pred.splice(0, drop), ...this.gt.splice(0, drop)]) t.dispose();
    this.skip = Math.max(0, this.stride - this.clipFrames);
  }

  private embed(frames: Tensor[]): Float32Array {
    return torch.scope(() => {
      const input = i3dInput(torch.stack(frames, 0), this.size); // frames already resized
      return new Float32Array(i3dEmbedding(this.model, input, this.layer).flatten().toArray());
    });
  }

  /** The distance over the clips seen so far; undefined with fewer than 2 clips (no covariance). */
  result(): FvdResult | undefined {
    const n = this.predEmbeddings.length;
    if (n < 2) return undefined;
    const dims = this.predEmbeddings[0].length;
    const value = torch.scope(() => {
      const matrix = (rows: Float32Array[]) => {
        const data = new Float32Array(n * dims);
        rows.forEach((r, i) => data.set(r, i * dims));
        return torch.tensor(data, { shape: [n, dims] });
      };
      return frechetDistance(featureStats(matrix(this.predEmbeddings)), featureStats(matrix(this.gtEmbeddings)));
    });
    return { value, clips: n, clipFrames: this.clipFrames, stride: this.stride, layer: this.layer, dims };
  }

  dispose(): void {
    for (const t of [...this.pred, ...this.gt]) t.dispose();
    this.pred = [];
    this.gt = [];
  }
}

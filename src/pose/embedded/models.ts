// The pretrained TensorFlow.js graph models shipped inside the @vladmandic/human npm package (its models/
// folder: MoveNet, CenterNet, BlazeFace, FaceMesh, FaceRes, hand landmarks), loaded once per process and run
// on our libtorch engine. Nothing is downloaded.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../torch/index.ts';
import { TfjsGraph } from './tfjs-graph/graph.ts';
import type { Image } from '../../io/image.ts';
import { applyAffine, boxToOutput, invertAffine, warpAffine, type Affine } from '../warp.ts';

export type EmbeddedModel = 'movenet-lightning' | 'centernet' | 'blazeface' | 'facemesh' | 'faceres' | 'handlandmark-lite';

const PACKAGE = '@vladmandic/human';

/** The package's models folder: $STABLE_ANIMATOR_HUMAN_MODELS, else node_modules found upward from here or the cwd. */
export function embeddedModelDir(): string {
  const override = process.env.STABLE_ANIMATOR_HUMAN_MODELS;
  if (override) return override;
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    let dir = resolve(start);
    for (;;) {
      const candidate = join(dir, 'node_modules', PACKAGE, 'models');
      if (existsSync(join(candidate, 'movenet-lightning.json'))) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error(`the embedded detectors need the npm package ${PACKAGE} (its models/ folder): run npm install`);
}

const loaded = new Map<EmbeddedModel, Promise<TfjsGraph>>();

/** Loads (once) one of the shipped graph models. */
export function loadEmbeddedModel(name: EmbeddedModel): Promise<TfjsGraph> {
  let p = loaded.get(name);
  if (!p) {
    p = TfjsGraph.load(join(embeddedModelDir(), `${name}.json`));
    loaded.set(name, p);
    p.catch(() => loaded.delete(name));
  }
  return p;
}

/** An affine crop of `image` as a [1, h, w, 3] float tensor, values 0-255 times `scale`. */
export function cropTensor(image: Image, m: Affine, width: number, height: number, scale = 1): torch.Tensor {
  const data = warpAffine(image, m, width, height);
  if (scale !== 1) for (let i = 0; i < data.length; i++) data[i] *= scale;
  return torch.tensor(data, { shape: [1, height, width, 3] });
}

/** The affine map stretching the whole image onto width x height (pixel centres aligned). */
export function stretchTo(image: Image, width: number, height: number): Affine {
  const sx = width / image.width;
  const sy = height / image.height;
  return [sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5];
}

/** A rotated square crop of an image: its centre and side in pixels, its angle in radians. */
export interface CropRegion {
  center: [number, number];
  side: number;
  angle: number;
}

/**
 * A MediaPipe landmark model (FaceMesh, hand landmarks) on a rotated square crop: `count` points [x, y] in
 * image pixels (the models' outputs are x, y, z per point in crop pixels, centres at +0.5) and the raw
 * presence output.
 */
export async function runLandmarkModel(image: Image, region: CropRegion, model: EmbeddedModel, inputSize: number, outputs: [string, string], count: number): Promise<{ points: [number, number][]; score: number }> {
  const graph = await loadEmbeddedModel(model);
  const m = boxToOutput(region.center, [region.side, region.side], inputSize, inputSize, region.angle);
  const [coords, flag] = torch.scope(() => {
    const x = cropTensor(image, m, inputSize, inputSize, 1 / 255);
    const [pts, score] = graph.execute({ input_1: x }, outputs);
    return [pts!.data<'f32'>(), score!.data<'f32'>()];
  });
  const inv = invertAffine(m);
  const points: [number, number][] = [];
  for (let i = 0; i < count; i++) points.push(applyAffine(inv, coords[3 * i]! - 0.5, coords[3 * i + 1]! - 0.5));
  return { points, score: flag[0]! };
}

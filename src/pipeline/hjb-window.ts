// Face-window decoding for HJB: the face loss reads only a 112x112 resize of each face box, so instead of decoding
// whole frames, decode a latent window around the faces (the boxes in latent space plus a margin) and
// backpropagate into those latent pixels only.
//   - one window per decode chunk: the union of the chunk's boxes, so the decoder's temporal layers (which mix
//     the same pixel position across frames) see aligned positions;
//   - chunks are runs of consecutive frames with a face (at most decodeChunkSize long): a frame without a face is
//     never decoded and its latent never receives a gradient;
//   - the boxes are mapped into the window's pixels unchanged (the window starts on a latent pixel, i.e. a
//     multiple of the VAE's factor), so the crop and resize are those of the full path (`cropFaces`).
// The decoder is not exactly local: its GroupNorms and the mid block's self-attention see the whole window, so
// the window path is an approximation of the full path whose error falls with the margin (see the margin
// study in `npm run bench -- hjb margins` and docs/pipeline.md).
import type { Tensor } from '../torch/index.ts';
import type { AutoencoderKLTemporalDecoder } from '../models/svd/autoencoder.ts';
import type { PixelBox } from '../face/face-boxes.ts';
import type { HjbDecodeWindow } from './hjb.ts';

/**
 * Latent pixels added around the faces by default. No margin short of the whole frame kept the in-box gradient
 * within 1e-2 of the full path's (margin study, docs/pipeline.md); 4 is the speed/accuracy compromise: loss within
 * 5e-3, in-box gradient within 0.37, 88% of the full path's loss decrease on the tiny test model.
 */
export const DEFAULT_HJB_MARGIN = 4;

/** A half-open rectangle of latent pixels: [x1, y1, x2, y2). */
export type LatentBox = [number, number, number, number];

/** Pixels per latent pixel: 2 per upsampling level of the decoder (8 for SVD's VAE). */
export function latentFactor(vae: AutoencoderKLTemporalDecoder): number {
  return 2 ** (vae.config.block_out_channels.length - 1);
}

/** A pixel box in latent pixels (rounded outwards), grown by `margin` and clipped to the latent's w x h. */
export function latentBox(box: PixelBox, factor: number, margin: number, w: number, h: number): LatentBox {
  return [
    Math.max(0, Math.floor(box[0] / factor) - margin), Math.max(0, Math.floor(box[1] / factor) - margin),
    Math.min(w, Math.ceil(box[2] / factor) + margin), Math.min(h, Math.ceil(box[3] / factor) + margin),
  ];
}

/** The union of the boxes' latent windows (undefined when no frame has a box). */
export function unionLatentBox(boxes: readonly (PixelBox | undefined)[], factor: number, margin: number, w: number, h: number): LatentBox | undefined {
  let u: LatentBox | undefined;
  for (const b of boxes) {
    if (!b) continue;
    const l = latentBox(b, factor, margin, w, h);
    u = u ? [Math.min(u[0], l[0]), Math.min(u[1], l[1]), Math.max(u[2], l[2]), Math.max(u[3], l[3])] : l;
  }
  return u;
}

/** Runs of consecutive frames with a box, split into chunks of at most `size`: [start, length] each. */
export function faceRuns(boxes: readonly (PixelBox | undefined)[], size: number): [number, number][] {
  const chunks: [number, number][] = [];
  let s = 0;
  while (s < boxes.length) {
    if (!boxes[s]) {
      s++;
      continue;
    }
    let len = 1;
    while (len < size && s + len < boxes.length && boxes[s + len]) len++;
    chunks.push([s, len]);
    s += len;
  }
  return chunks;
}

/** Crops latents [n, C, h, w] to a latent box. */
export function cropLatent(latents: Tensor, b: LatentBox): Tensor {
  return latents.narrow(2, b[1], b[3] - b[1]).narrow(3, b[0], b[2] - b[0]);
}

/** Decodes only the latent window around a chunk's faces (`margin` latent pixels around the union of its boxes). */
export function faceWindow(margin = DEFAULT_HJB_MARGIN): HjbDecodeWindow {
  if (!Number.isInteger(margin) || margin < 0) throw new Error(`HJB face window: margin must be a non-negative integer, got ${margin}`);
  return {
    chunks: faceRuns,
    decode(vae, latents, boxes) {
      const factor = latentFactor(vae);
      const [h, w] = latents.shape.slice(-2);
      const win = unionLatentBox(boxes, factor, margin, w, h);
      if (!win) throw new Error('HJB face window: a decode chunk without a face box');
      const images = vae.decode(cropLatent(latents, win), latents.size(0));
      const [ox, oy] = [win[0] * factor, win[1] * factor];
      return { images, boxes: boxes.map((b) => b && [b[0] - ox, b[1] - oy, b[2] - ox, b[3] - oy] as PixelBox) };
    },
  };
}

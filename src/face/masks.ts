// Face masks as StableAnimator trains with them (face_mask_extraction.py): per frame, a single-channel PNG
// with every detected face box filled with 255 on 0. A frame with no face is reported; what it gets is a
// choice: 'empty' (all 0, the default here) or 'full' (all 255, the reference's fallback, which turns the
// face-weighted loss into plain x2 weighting for that frame).

import { join } from 'node:path';
import sharp from 'sharp';
import { writeAtomically, writeFileAtomic } from '../io/atomic.ts';
import type { FrameProgress } from '../io/frame-folder.ts';
import type { Image } from '../io/image.ts';
import type { Box } from '../pose/dwpose/yolox.ts';
import { openMedia } from '../pose/extract.ts';
import { detectFaces, largestFace, type DetectFacesOptions } from './detect.ts';

export interface MaskImage {
  width: number;
  height: number;
  /** One byte per pixel, 0 or 255. */
  data: Uint8Array;
}

/** Fills each box (pixel indices rounded, both ends included, like cv2.rectangle with thickness -1). */
export function faceMask(width: number, height: number, boxes: Box[], fill: 0 | 255 = 0): MaskImage {
  const data = new Uint8Array(width * height).fill(fill);
  for (const [x1, y1, x2, y2] of boxes) {
    const xa = Math.max(0, Math.round(x1));
    const ya = Math.max(0, Math.round(y1));
    const xb = Math.min(width - 1, Math.round(x2));
    const yb = Math.min(height - 1, Math.round(y2));
    for (let y = ya; y <= yb; y++) data.fill(255, y * width + xa, y * width + xb + 1);
  }
  return { width, height, data };
}

export async function writeMask(path: string, mask: MaskImage): Promise<void> {
  await writeAtomically(path, async (temp) => {
    await sharp(mask.data, { raw: { width: mask.width, height: mask.height, channels: 1 } }).toColourspace('b-w').png().toFile(temp);
  });
}

export interface FaceMaskOptions {
  /** What a frame without a face gets: 'empty' (all 0, default) or 'full' (all 255, as the reference). */
  missing?: 'empty' | 'full';
  /** Only the largest face per frame (default: every face, as the reference). */
  largestOnly?: boolean;
  maxFrames?: number;
  detect?: DetectFacesOptions;
  onProgress?: (progress: FrameProgress) => void;
}

export interface FaceMaskReport {
  frames: number;
  size: [number, number];
  /** Indices of frames where no face was found. */
  missing: number[];
  /** Face boxes per frame, image pixels. */
  boxes: Box[][];
}

/** Face boxes of one frame. */
export async function frameFaceBoxes(image: Image, options: FaceMaskOptions = {}): Promise<Box[]> {
  const faces = await detectFaces(image, options.detect);
  if (options.largestOnly) {
    const f = largestFace(faces);
    return f ? [f.box] : [];
  }
  return faces.map((f) => f.box);
}

/**
 * Writes frame_0.png, frame_1.png, ... masks for a video, a gif or a folder of frames into `outDir`, and
 * faces.json with the boxes and the frames without a face.
 */
export async function extractFaceMasks(source: string, outDir: string, options: FaceMaskOptions = {}): Promise<FaceMaskReport> {
  const media = await openMedia(source, { maxFrames: options.maxFrames });
  const report: FaceMaskReport = { frames: 0, size: [0, 0], missing: [], boxes: [] };
  for await (const image of media.frames) {
    const i = report.frames;
    report.size = [image.width, image.height];
    const boxes = await frameFaceBoxes(image, options);
    if (boxes.length === 0) report.missing.push(i);
    report.boxes.push(boxes.map((b) => b.map((v) => Math.round(v * 100) / 100) as Box));
    const fill = boxes.length === 0 && options.missing === 'full' ? 255 : 0;
    await writeMask(join(outDir, `frame_${i}.png`), faceMask(image.width, image.height, boxes, fill));
    report.frames++;
    options.onProgress?.({ frames: report.frames, total: media.total });
  }
  await writeFileAtomic(join(outDir, 'faces.json'), JSON.stringify({ ...report, missingPolicy: options.missing ?? 'empty' }) + '\n');
  return report;
}

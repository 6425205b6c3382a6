// A folder of still images as a frame sequence (frame_0.png, frame_1.png, ... in natural order).

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isImagePath, readImage, resizeImage, type Image } from './image.ts';
import { sortNatural } from './natural-sort.ts';

export interface FrameProgress {
  /** Frames done so far. */
  frames: number;
  /** Expected total, when known. */
  total?: number;
}

export interface FrameFolderOptions {
  /** Resize every frame to this size (both given, or one with the other following the first frame's aspect). */
  width?: number;
  height?: number;
  maxFrames?: number;
  onProgress?: (progress: FrameProgress) => void;
}

/** The image files of `dir` (png/jpg/jpeg/webp), in natural order, as full paths. */
export async function listFrameFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new Error(`cannot list frames in ${dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'folder not found' : (err as Error).message}`);
  }
  const frames = sortNatural(names.filter(isImagePath)).map((name) => join(dir, name));
  if (frames.length === 0) throw new Error(`no frames in ${dir}: expected .png, .jpg or .webp files`);
  return frames;
}

/** Target size for a frame of `width` x `height` when the caller gave one or both dimensions. */
export function requestedSize(width: number, height: number, want: { width?: number; height?: number }): [number, number] {
  if (want.width && want.height) return [want.width, want.height];
  if (want.width) return [want.width, Math.max(1, Math.round((height * want.width) / width))];
  if (want.height) return [Math.max(1, Math.round((width * want.height) / height)), want.height];
  return [width, height];
}

/** Reads the frames of a folder as RGB images; all must share one size unless a size is requested. */
export async function* readFrameFolder(dir: string, options: FrameFolderOptions = {}): AsyncGenerator<Image> {
  let files = await listFrameFiles(dir);
  if (options.maxFrames !== undefined) files = files.slice(0, options.maxFrames);
  let size: [number, number] | undefined;
  for (let i = 0; i < files.length; i++) {
    let frame = await readImage(files[i], { channels: 3 });
    size ??= requestedSize(frame.width, frame.height, options);
    const resizing = options.width !== undefined || options.height !== undefined;
    if (frame.width !== size[0] || frame.height !== size[1]) {
      if (!resizing) {
        throw new Error(`frame ${files[i]} is ${frame.width}x${frame.height}, but the first frame is ${size[0]}x${size[1]}`);
      }
      frame = await resizeImage(frame, size[0], size[1]);
    }
    options.onProgress?.({ frames: i + 1, total: files.length });
    yield frame;
  }
}

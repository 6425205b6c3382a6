// Writing generated frames: an .mp4 (H.264) or .gif, or a folder of frame_0.png, frame_1.png, ... (the
// reference's `animated_images/`). Every file is written atomically (a temporary name, then a rename), a
// folder as a whole (io/frame-folder.ts).
import { extname } from 'node:path';
import type { Tensor } from '../torch/index.ts';
import { writeFrameFolder, type FrameProgress } from '../io/frame-folder.ts';
import type { Image } from '../io/image.ts';
import { encodeVideo } from '../io/video.ts';

/** frames [F,3,H,W] in [0,1] -> 8-bit RGB images (rounded, as PIL's (x·255).round()). */
export function framesToImages(frames: Tensor): Image[] {
  if (frames.ndim !== 4 || frames.size(1) !== 3) throw new Error(`expected frames [F,3,H,W], got [${frames.shape}]`);
  const [f, , height, width] = frames.shape;
  const hwc = frames.mul(255).round().clamp(0, 255).permute([0, 2, 3, 1]).contiguous().to('u8');
  const data = hwc.data<'u8'>();
  hwc.dispose();
  const size = height * width * 3;
  return Array.from({ length: f }, (_, i) => ({ width, height, channels: 3 as const, data: data.slice(i * size, (i + 1) * size) }));
}

export type OutputKind = 'mp4' | 'gif' | 'png';

/** By extension: .mp4, .gif, otherwise a folder of PNG frames. */
export function outputKind(path: string): OutputKind {
  const ext = extname(path).toLowerCase();
  if (ext === '.mp4') return 'mp4';
  if (ext === '.gif') return 'gif';
  if (ext === '') return 'png';
  throw new Error(`unsupported output ${path}: use .mp4, .gif or a folder name (PNG frames)`);
}

export interface WriteFramesOptions {
  /** Frame rate of the video (default 8, StableAnimator's Gradio default; a gif plays at 1000/125 = 8 too). */
  fps?: number;
  onProgress?: (p: FrameProgress) => void;
}

/** Writes the frames to `path` (see outputKind); returns the written paths. */
export async function writeFrames(path: string, images: readonly Image[], opts: WriteFramesOptions = {}): Promise<string[]> {
  const kind = outputKind(path);
  if (kind === 'png') return writeFrameFolder(path, images.length, (i) => images[i]!, opts.onProgress);
  await encodeVideo(path, images, { fps: opts.fps ?? 8, onProgress: opts.onProgress });
  return [path];
}

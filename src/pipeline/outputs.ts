// Writing generated frames: an .mp4 (H.264) or .gif, or a folder of frame_0.png, frame_1.png, ... (the
// reference's `animated_images/`). Every file is written atomically (a temporary name, then a rename), a
// folder as a whole (io/frame-folder.ts). An animation plays at its driving input's sampled rate, with the
// driving video's audio cut to its length (mp4 only).
import { extname } from 'node:path';
import type { Tensor } from '../torch/index.ts';
import { writeFrameFolder, type FrameProgress } from '../io/frame-folder.ts';
import type { Image } from '../io/image.ts';
import { encodeVideo, type AudioSource } from '../io/video.ts';

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
  /** An audio track for an .mp4 (io/video.ts); ignored for gifs and frame folders. */
  audio?: AudioSource;
  onProgress?: (p: FrameProgress) => void;
}

/** Writes the frames to `path` (see outputKind); returns the written paths. */
export async function writeFrames(path: string, images: readonly Image[], opts: WriteFramesOptions = {}): Promise<string[]> {
  const kind = outputKind(path);
  if (kind === 'png') return writeFrameFolder(path, images.length, (i) => images[i]!, opts.onProgress);
  await encodeVideo(path, images, { fps: opts.fps ?? 8, onProgress: opts.onProgress, ...(kind === 'mp4' && opts.audio ? { audio: opts.audio } : {}) });
  return [path];
}

/** Frames to play at `fps`, with the driving video whose audio goes with them (when it has audio). */
export interface Animation {
  frames: Image[];
  fps: number;
  audio?: string;
}

/**
 * Writes an animation at its own rate, an .mp4 with its audio from the start, cut to the animation's length
 * (`audio: false` drops it); returns the written paths and whether audio was written.
 */
export async function writeAnimation(path: string, animation: Animation, opts: { audio?: boolean; onProgress?: (p: FrameProgress) => void } = {}): Promise<{ paths: string[]; audio: boolean }> {
  const withAudio = opts.audio !== false && !!animation.audio && outputKind(path) === 'mp4';
  const audio = withAudio ? { path: animation.audio!, seconds: animation.frames.length / animation.fps } : undefined;
  const paths = await writeFrames(path, animation.frames, { fps: animation.fps, audio, onProgress: opts.onProgress });
  return { paths, audio: withAudio };
}

// Pose extraction from a still image, a video file or a folder of frames, with either detector.

import { stat } from 'node:fs/promises';
import type { FrameProgress } from '../io/frame-folder.ts';
import { isImagePath, readImage, type Image } from '../io/image.ts';
import { decodeFrames, probeVideo } from '../io/video.ts';
import type { PoseDetector } from './detector.ts';
import { DwposeDetector } from './dwpose/detector.ts';
import { EmbeddedPoseDetector, type EmbeddedPoseOptions } from './embedded/detector.ts';
import type { PoseFrame, PoseSequence } from './keypoints.ts';

export type DetectorKind = 'dwpose' | 'default';

export interface OpenDetectorOptions {
  detector?: DetectorKind;
  /** Folder with yolox_l.onnx and dw-ll_ucoco_384.onnx (DWPose). */
  dwposeDir?: string;
  /** Options of the embedded default. */
  embedded?: EmbeddedPoseOptions;
}

export async function openPoseDetector(options: OpenDetectorOptions = {}): Promise<PoseDetector> {
  const kind = options.detector ?? (options.dwposeDir ? 'dwpose' : 'default');
  if (kind === 'dwpose') return DwposeDetector.load({ dir: options.dwposeDir });
  if (kind === 'default') return new EmbeddedPoseDetector(options.embedded);
  throw new Error(`unknown detector '${kind as string}' (use dwpose or default)`);
}

export interface MediaSource {
  kind: 'image' | 'video' | 'folder';
  frames: AsyncIterable<Image>;
  /** Expected frame count, when known. */
  total?: number;
  fps?: number;
  /** Resolves to [width, height] once the first frame is known (already known for videos). */
  size?: [number, number];
}

/** Opens an image file, a video file or a folder of frames as a stream of RGB frames. */
export async function openMedia(path: string, options: { maxFrames?: number; fps?: number; indices?: readonly number[] } = {}): Promise<MediaSource> {
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    throw new Error(`cannot read ${path}: not found`);
  }
  if (!isDir && isImagePath(path)) {
    async function* one() {
      yield await readImage(path, { channels: 3 });
    }
    return { kind: 'image', frames: one(), total: 1 };
  }
  if (isDir) return { kind: 'folder', frames: decodeFrames(path, { maxFrames: options.maxFrames }) };
  const info = await probeVideo(path);
  const fps = options.fps ?? info.fps;
  let total = options.fps ? Math.round((info.frameCount * options.fps) / info.fps) : info.frameCount;
  if (options.maxFrames !== undefined) total = Math.min(total, options.maxFrames);
  if (options.indices) total = options.indices.filter((i) => i < total).length;
  return {
    kind: 'video',
    frames: decodeFrames(path, { maxFrames: options.maxFrames, fps: options.fps, indices: options.indices }),
    total,
    fps,
    size: [info.width, info.height],
  };
}

export interface ExtractOptions {
  maxFrames?: number;
  /** Resample videos to this frame rate. */
  fps?: number;
  /** Only these frames of a video (io/frame-rate.ts); the result's fps stays the video's. */
  indices?: readonly number[];
  onProgress?: (progress: FrameProgress) => void;
  /** Called with each frame's result (e.g. to render as it goes). */
  onFrame?: (frame: PoseFrame, index: number, image: Image) => Promise<void> | void;
}

/** Runs the detector on every frame of `path`. */
export async function extractPoses(path: string, detector: PoseDetector, options: ExtractOptions = {}): Promise<PoseSequence> {
  const media = await openMedia(path, options);
  const frames: PoseFrame[] = [];
  let size: [number, number] | undefined = media.size;
  for await (const image of media.frames) {
    size ??= [image.width, image.height];
    if (image.width !== size[0] || image.height !== size[1]) {
      throw new Error(`${path}: frame ${frames.length} is ${image.width}x${image.height}, the first is ${size[0]}x${size[1]}`);
    }
    const frame = await detector.detect(image);
    await options.onFrame?.(frame, frames.length, image);
    frames.push(frame);
    options.onProgress?.({ frames: frames.length, total: media.total });
  }
  if (!size) throw new Error(`${path}: no frames`);
  return { size, ...(media.fps ? { fps: media.fps } : {}), frames };
}

// The driving poses of an animation, from any of three inputs:
//   - a folder of skeleton images (frame_0.png, ...): used as they are (resized to the output size);
//   - a keypoint file (our JSON or a DWPose dump);
//   - a video: poses extracted with a detector.
// Keypoints are aligned to the reference's pose (StableAnimator++'s learned alignment by default, or the
// closed-form SVD fit, the reference's polyfit rule, or nothing) and drawn at the output size exactly as the
// reference draws them. The aligned keypoints are kept: the HJB face boxes come from their face landmarks.
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Image } from '../io/image.ts';
import { listFrameFiles } from '../io/frame-folder.ts';
import { readImage } from '../io/image.ts';
import { alignPoseFrames, type AlignMethod } from '../align/align-frames.ts';
import type { LearnedAlignment } from '../align/learned-alignment.ts';
import type { PoseDetector } from '../pose/detector.ts';
import { listPoseFrameFiles } from '../pose/dwpose-file.ts';
import { extractPoses } from '../pose/extract.ts';
import { readPoseFile } from '../pose/keypoint-json.ts';
import type { PoseFrame, PoseSequence } from '../pose/keypoints.ts';
import { renderPose, type SkeletonStyle } from '../pose/render.ts';
import type { FrameProgress } from '../io/frame-folder.ts';

export type DrivingKind = 'skeletons' | 'keypoints' | 'video';

/**
 * What a path holds: a folder -> skeleton images, or keypoints when it holds per-frame pose files (.npy, .json)
 * and no images; .json or .npy -> keypoints; anything else -> a video.
 */
export async function drivingKind(path: string): Promise<DrivingKind> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    throw new Error(`cannot read the driving input ${path}: not found`);
  }
  if (isDir) return (await listPoseFrameFiles(path)).length > 0 ? 'keypoints' : 'skeletons';
  return ['.json', '.npy'].includes(extname(path).toLowerCase()) ? 'keypoints' : 'video';
}

export interface DrivingOptions {
  width: number;
  height: number;
  align: AlignMethod;
  /** The learned block (align 'learned'). */
  alignModel?: LearnedAlignment;
  /** The reference's pose (its persons normalised to the reference image) and the reference image's size. */
  referencePose?: PoseFrame;
  referenceSize?: [number, number];
  /** Extracts poses from videos. */
  detector?: PoseDetector;
  maxFrames?: number;
  /** How skeletons are drawn (default 'reference', as the released weights were trained). */
  skeleton?: SkeletonStyle;
  onProgress?: (p: FrameProgress) => void;
  onNotice?: (message: string) => void;
}

export interface DrivingPoses {
  kind: DrivingKind;
  /** Skeleton images at the output size. */
  images: Image[];
  /** The aligned keypoints, normalised to the output frame (absent for skeleton images). */
  frames?: PoseFrame[];
  /** The alignment actually applied. */
  alignment: AlignMethod;
  /** The driving video's frame rate, when known. */
  fps?: number;
}

export async function loadDrivingPoses(path: string, opts: DrivingOptions): Promise<DrivingPoses> {
  const kind = await drivingKind(path);
  if (kind === 'skeletons') {
    let files = await listFrameFiles(path);
    if (opts.maxFrames !== undefined) files = files.slice(0, opts.maxFrames);
    if (opts.align !== 'none') opts.onNotice?.(`${path} holds skeleton images: they are used as they are (--align applies to keypoints and videos)`);
    const images: Image[] = [];
    for (const file of files) {
      images.push(await readImage(file, { channels: 3 }));
      opts.onProgress?.({ frames: images.length, total: files.length });
    }
    return { kind, images, alignment: 'none' };
  }
  let seq: PoseSequence;
  if (kind === 'keypoints') {
    seq = await readPoseFile(path);
    if (opts.maxFrames !== undefined) seq = { ...seq, frames: seq.frames.slice(0, opts.maxFrames) };
  } else {
    if (!opts.detector) throw new Error(`extracting poses from ${path} needs a pose detector`);
    seq = await extractPoses(path, opts.detector, { maxFrames: opts.maxFrames, onProgress: opts.onProgress });
  }
  if (seq.frames.length === 0) throw new Error(`${path}: no frames`);
  const { frames, alignment } = alignDriving(seq, opts);
  return { kind, images: renderDriving(frames, opts), frames, alignment, ...(seq.fps ? { fps: seq.fps } : {}) };
}

/** Aligned keypoints drawn at the output size, in the weights' skeleton style. */
export function renderDriving(frames: readonly PoseFrame[], opts: Pick<DrivingOptions, 'width' | 'height' | 'skeleton'>): Image[] {
  return frames.map((f) => renderPose(f, opts.width, opts.height, { style: opts.skeleton }));
}

/** Aligns the sequence to the reference pose; without a usable reference pose, says so and leaves it unaligned. */
export function alignDriving(seq: PoseSequence, opts: DrivingOptions): { frames: PoseFrame[]; alignment: AlignMethod } {
  let method = opts.align;
  if (method === 'learned' && !opts.alignModel) throw new Error('--align learned needs the alignment model');
  if (method !== 'none' && (!opts.referencePose || opts.referencePose.persons.length === 0 || !opts.referenceSize)) {
    opts.onNotice?.(`no person found in the reference image: the driving poses are not aligned (--align ${method} ignored)`);
    method = 'none';
  }
  const refSize = opts.referenceSize ?? seq.size;
  const { frames } = alignPoseFrames(opts.referencePose ?? { persons: [] }, seq.frames, {
    method, model: opts.alignModel, refSize, drivenSize: seq.size,
  });
  return { frames, alignment: method };
}

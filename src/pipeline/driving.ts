// The driving poses of an animation, from any of three inputs:
//   - a folder of skeleton images (frame_0.png, ...): used as they are (resized to the output size);
//   - a keypoint file (our JSON or a DWPose dump);
//   - a video: poses extracted with a detector.
// Keypoints are aligned to the reference's pose (StableAnimator++'s learned alignment by default, or the
// closed-form SVD fit, the reference's polyfit rule, or nothing) and drawn at the output size exactly as the
// reference draws them. The aligned keypoints are kept: the HJB face boxes come from their face landmarks.
// Every input is sampled in time by one rule (io/frame-rate.ts): a video or a keypoint file with a frame rate at
// --fps (default the weights' training rate) or every --stride-th frame, so the animation lasts as long as it.
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Image } from '../io/image.ts';
import { listFrameFiles } from '../io/frame-folder.ts';
import { pickFrames, sampleFrames, type FrameSampling } from '../io/frame-rate.ts';
import { readImage } from '../io/image.ts';
import { hasAudio, probeVideo } from '../io/video.ts';
import { alignPoseFrames, type AlignMethod } from '../align/align-frames.ts';
import type { LearnedAlignment } from '../align/learned-alignment.ts';
import type { PoseDetector } from '../pose/detector.ts';
import { listPoseFrameFiles } from '../pose/dwpose-file.ts';
import { extractPoses } from '../pose/extract.ts';
import { readPoseFile } from '../pose/keypoint-json.ts';
import type { PoseFrame, PoseSequence } from '../pose/keypoints.ts';
import { renderPose, type SkeletonStyle } from '../pose/render.ts';
import type { FrameProgress } from '../io/frame-folder.ts';
import { RELEASED_TRAINING } from './components.ts';

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
  /** Sample at this rate (at most the source's), or every `stride`-th frame; default `defaultFps`. */
  fps?: number;
  stride?: number;
  /** The weights' training rate (WeightsFacts.fps; default the released weights'). */
  defaultFps?: number;
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
  /** Which source frames were used and the rate the animation plays at. */
  sampling: FrameSampling;
  /** A driving video with an audio track: its path (the animation's soundtrack). */
  audio?: string;
}

/** Samples a driving input of `count` frames at `sourceFps` by the options' rate or stride. */
export function drivingSampling(count: number, sourceFps: number | undefined, opts: Pick<DrivingOptions, 'fps' | 'stride' | 'defaultFps' | 'maxFrames'>): FrameSampling {
  return sampleFrames(count, sourceFps, { fps: opts.fps, stride: opts.stride }, opts.defaultFps ?? RELEASED_TRAINING.fps, opts.maxFrames);
}

export async function loadDrivingPoses(path: string, opts: DrivingOptions): Promise<DrivingPoses> {
  const kind = await drivingKind(path);
  if (kind === 'skeletons') {
    const all = await listFrameFiles(path);
    const sampling = drivingSampling(all.length, undefined, opts);
    const files = pickFrames(all, sampling);
    if (opts.align !== 'none') opts.onNotice?.(`${path} holds skeleton images: they are used as they are (--align applies to keypoints and videos)`);
    const images: Image[] = [];
    for (const file of files) {
      images.push(await readImage(file, { channels: 3 }));
      opts.onProgress?.({ frames: images.length, total: files.length });
    }
    return { kind, images, alignment: 'none', sampling };
  }
  let seq: PoseSequence;
  let sampling: FrameSampling;
  let audio: string | undefined;
  if (kind === 'keypoints') {
    ({ seq, sampling } = sampleSequence(await readPoseFile(path), opts));
  } else {
    if (!opts.detector) throw new Error(`extracting poses from ${path} needs a pose detector`);
    const info = await probeVideo(path);
    sampling = drivingSampling(info.frameCount, info.fps, opts);
    seq = await extractPoses(path, opts.detector, { indices: sampling.indices, onProgress: opts.onProgress });
    if (seq.frames.length < sampling.indices.length) sampling = { ...sampling, indices: sampling.indices.slice(0, seq.frames.length) };
    if (await hasAudio(path)) audio = path;
  }
  if (seq.frames.length === 0) throw new Error(`${path}: no frames`);
  const { frames, alignment } = alignDriving(seq, opts);
  return { kind, images: renderDriving(frames, opts), frames, alignment, sampling, ...(audio ? { audio } : {}) };
}

/** A keypoint sequence sampled by its own rate (when it has one) and the options' rate or stride. */
export function sampleSequence(seq: PoseSequence, opts: Pick<DrivingOptions, 'fps' | 'stride' | 'defaultFps' | 'maxFrames'>): { seq: PoseSequence; sampling: FrameSampling } {
  const sampling = drivingSampling(seq.frames.length, seq.fps, opts);
  return { seq: { ...seq, fps: sampling.fps, frames: pickFrames(seq.frames, sampling) }, sampling };
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

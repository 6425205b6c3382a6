// The library entry point: a weights folder loaded once, then any number of (reference photo, driving input)
// pairs animated through the whole StableAnimator++ path (prepare.ts, then the pipeline of animate.ts).
//
//   const animator = StableAnimator.fromPretrained('weights/mini');
//   const result = await animator.animate('photo.png', 'dance.mp4');
//   await writeAnimation('out.mp4', result);     // at the sampled rate, with the dance's audio
//
// The weights' own facts come with the folder: a miniature (miniature.json) says its frame size, skeleton
// style, window length and training frame rate; the learned alignment is <weights>/Alignment when present, else
// the shipped weights/align. Without a folder the weights come from the Hugging Face cache
// (models/weights-layout.ts, HUB_SOURCES).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DType } from '../torch/index.ts';
import type { FrameProgress } from '../io/frame-folder.ts';
import { readImage, type Image } from '../io/image.ts';
import type { AlignMethod } from '../align/align-frames.ts';
import { ALIGNMENT_CONFIG_FILE, DEFAULT_ALIGN_WEIGHTS, LearnedAlignment } from '../align/learned-alignment.ts';
import { openPoseDetector } from '../pose/extract.ts';
import type { PoseSequence } from '../pose/keypoints.ts';
import { checkOutputSize, INFERENCE_DEFAULTS, StableAnimatorPipeline, type AnimateOptions, type StableAnimatorComponents } from './animate.ts';
import { loadComponents, readWeightsFacts, resolveWeightPaths, untrainedSizeWarning, workingSize, type WeightPaths, type WeightsFacts } from './components.ts';
import { drivingKind } from './driving.ts';
import type { FitMode } from './framing.ts';
import { framesToImages, type Animation } from './outputs.ts';
import type { PlacementOptions } from './placement.ts';
import { prepareDriving, prepareInputs, type PreparedDriving } from './prepare.ts';

export interface AnimateRequest extends Omit<AnimateOptions, 'outputType' | 'fps'> {
  /**
   * Output size (multiples of 64); default the trained size nearest the reference's aspect (a miniature's own);
   * `width` alone: the height follows the reference's aspect.
   */
  width?: number;
  height?: number;
  /** How the reference is fitted to that size (default 'crop', around the person). */
  fit?: FitMode;
  /** Pose alignment (default 'learned'). */
  align?: AlignMethod;
  /** Sample the driving input at this rate (default the weights' training rate), or every `stride`-th frame. */
  fps?: number;
  stride?: number;
  /** The frame rate the model is conditioned on (SVD's fps micro-conditioning; default 7). */
  conditioningFps?: number;
  /** Keep a driving video's audio for the output (default true). */
  audio?: boolean;
  /** Progress of reading the driving input (a video's pose extraction). */
  onDrivingProgress?: (p: FrameProgress) => void;
  maxFrames?: number;
  /** HJB face boxes from mask images instead of the face keypoints; the reference's face from a mask. */
  faceMasks?: string;
  refMask?: string;
}

export interface AnimationResult extends Animation {
  /** The animation, one RGB image per sampled driving frame, to play at `fps`. */
  frames: Image[];
  driving: PreparedDriving;
  warnings: string[];
}

export class StableAnimator {
  private alignModel?: LearnedAlignment;

  private constructor(
    readonly components: StableAnimatorComponents,
    readonly paths: WeightPaths,
    /** dir: the weights folder; undefined: the Hugging Face cache. */
    readonly weights: WeightsFacts & { dir?: string },
  ) {}

  /**
   * Loads a weights folder in the released layout (or the miniature's); without one, the released weights from
   * the Hugging Face cache. `hjb`: also the face recognizer HJB needs. Placement: `device`, `vaeDevice`,
   * `imageEncoderDevice`, `offload` (placement.ts).
   */
  static fromPretrained(dir?: string, opts: PlacementOptions & { dtype?: DType; hjb?: boolean } = {}): StableAnimator {
    const paths = resolveWeightPaths(dir, {}, { hjb: opts.hjb });
    const components = loadComponents(paths, { ...opts, arcface: !!opts.hjb || !paths.arcfaceOnnx });
    return new StableAnimator(components, paths, { dir, ...readWeightsFacts(dir) });
  }

  /** Animates `reference` (a photo or its path) with `driving` (a video, keypoint file or skeleton folder path, or keypoints). */
  async animate(reference: string | Image, driving: string | PoseSequence, request: AnimateRequest = {}): Promise<AnimationResult> {
    const image = typeof reference === 'string' ? await readImage(reference, { channels: 3 }) : reference;
    const { poses, width, height, notices } = await this.drivingPoses(image, driving, request);
    const prepared = await prepareInputs(this.components, image, poses, {
      width, height, hjb: !!request.hjb, faceMasks: request.faceMasks, refMask: request.refMask, arcfaceOnnx: this.paths.arcfaceOnnx,
    });
    const { fps: _sampling, stride: _stride, conditioningFps, audio, fit: _fit, onDrivingProgress: _progress, ...options } = request;
    const result = new StableAnimatorPipeline(this.components).call(prepared.inputs, {
      ...INFERENCE_DEFAULTS,
      // a miniature's windows are its training clips, overlapping by 2 frames as in its demo
      ...(this.weights.window ? { tileSize: this.weights.window, tileOverlap: Math.min(2, this.weights.window - 1) } : {}),
      ...options,
      ...(conditioningFps !== undefined ? { fps: conditioningFps } : {}),
      onWarning: (m) => { notices.push(m); request.onWarning?.(m); },
    });
    const frames = framesToImages(result.frames!);
    for (const t of [prepared.inputs.reference, prepared.inputs.referenceOriginal, prepared.inputs.poses, prepared.inputs.faceEmbedding, result.frames, result.latents]) t?.dispose();
    const sound = audio !== false && poses.audio ? { audio: poses.audio } : {};
    return { frames, fps: poses.sampling.fps, ...sound, driving: poses, warnings: notices };
  }

  /** The front half alone: the driving poses sampled, aligned to `image` (framed) and drawn at the output size (what a pose preview shows). */
  async drivingPoses(image: Image, driving: string | PoseSequence, request: AnimateRequest = {}): Promise<{ poses: PreparedDriving; width: number; height: number; notices: string[] }> {
    const [width, height] = workingSize(this.weights, image.width, image.height, request);
    checkOutputSize(width, height);
    const align = request.align ?? 'learned';
    const notices: string[] = [];
    const sizeWarning = untrainedSizeWarning(this.weights, width, height);
    if (sizeWarning) notices.push(sizeWarning);
    // a detector only where poses must be found: a video's, the reference's for aligning keypoints or cropping
    const kind = typeof driving === 'string' ? await drivingKind(driving) : 'keypoints';
    const needed = kind === 'video' || (kind === 'keypoints' && align !== 'none') || (request.fit ?? 'crop') === 'crop';
    const detector = needed ? await openPoseDetector({ detector: this.paths.dwposeDir ? 'dwpose' : 'default', dwposeDir: this.paths.dwposeDir }) : undefined;
    let poses: PreparedDriving;
    try {
      poses = await prepareDriving(image, driving, {
        width, height, align, alignModel: align === 'learned' ? this.alignment() : undefined, detector, maxFrames: request.maxFrames,
        fps: request.fps, stride: request.stride, defaultFps: this.weights.fps, fit: request.fit,
        skeleton: this.weights.skeleton, onNotice: (m) => notices.push(m), onProgress: request.onDrivingProgress,
      });
    } finally {
      await detector?.dispose();
    }
    return { poses, width, height, notices };
  }

  /** The learned alignment: <weights>/Alignment, else the shipped one. */
  private alignment(): LearnedAlignment {
    const own = this.weights.dir === undefined ? undefined : join(this.weights.dir, 'Alignment');
    this.alignModel ??= LearnedAlignment.fromPretrained(own && existsSync(join(own, ALIGNMENT_CONFIG_FILE)) ? own : DEFAULT_ALIGN_WEIGHTS);
    return this.alignModel;
  }
}

// The library entry point: a weights folder loaded once, then any number of (reference photo, driving input)
// pairs animated through the whole StableAnimator++ path (prepare.ts, then the pipeline of animate.ts).
//
//   const animator = StableAnimator.fromPretrained('weights/mini');
//   const { frames } = await animator.animate('photo.png', 'dance.mp4');
//   await writeFrames('out.mp4', frames, { fps: 8 });
//
// The weights' own facts come with the folder: a miniature (miniature.json) says its frame size and skeleton
// style and window length; the learned alignment is <weights>/Alignment when present, else the shipped weights/align.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Device, DType } from '../torch/index.ts';
import { readImage, type Image } from '../io/image.ts';
import type { AlignMethod } from '../align/align-frames.ts';
import { ALIGNMENT_CONFIG_FILE, DEFAULT_ALIGN_WEIGHTS, LearnedAlignment } from '../align/learned-alignment.ts';
import { openPoseDetector } from '../pose/extract.ts';
import type { PoseSequence } from '../pose/keypoints.ts';
import { INFERENCE_DEFAULTS, StableAnimatorPipeline, type AnimateOptions, type StableAnimatorComponents } from './animate.ts';
import { loadComponents, readWeightsFacts, resolveWeightPaths, type WeightPaths, type WeightsFacts } from './components.ts';
import { drivingKind, type DrivingPoses } from './driving.ts';
import { framesToImages } from './outputs.ts';
import { prepareDriving, prepareInputs } from './prepare.ts';

export interface AnimateRequest extends Omit<AnimateOptions, 'outputType'> {
  /** Output size (multiples of 64); default the weights' size (a miniature's), else 512 wide at the reference's aspect. */
  width?: number;
  height?: number;
  /** Pose alignment (default 'learned'). */
  align?: AlignMethod;
  maxFrames?: number;
  /** HJB face boxes from mask images instead of the face keypoints; the reference's face from a mask. */
  faceMasks?: string;
  refMask?: string;
}

export interface AnimationResult {
  /** The animation, one RGB image per driving frame. */
  frames: Image[];
  driving: DrivingPoses;
  warnings: string[];
}

export class StableAnimator {
  private alignModel?: LearnedAlignment;

  private constructor(
    readonly components: StableAnimatorComponents,
    readonly paths: WeightPaths,
    readonly weights: WeightsFacts & { dir: string },
  ) {}

  /** Loads a weights folder in the released layout (or the miniature's). `hjb`: also the face recognizer HJB needs. */
  static fromPretrained(dir: string, opts: { device?: Device; dtype?: DType; hjb?: boolean } = {}): StableAnimator {
    const paths = resolveWeightPaths(dir, {}, { hjb: opts.hjb });
    const components = loadComponents(paths, { device: opts.device, dtype: opts.dtype, arcface: !!opts.hjb || !paths.arcfaceOnnx });
    return new StableAnimator(components, paths, { dir, ...readWeightsFacts(dir) });
  }

  /** Animates `reference` (a photo or its path) with `driving` (a video, keypoint file or skeleton folder path, or keypoints). */
  async animate(reference: string | Image, driving: string | PoseSequence, request: AnimateRequest = {}): Promise<AnimationResult> {
    const image = typeof reference === 'string' ? await readImage(reference, { channels: 3 }) : reference;
    const { poses, width, height, notices } = await this.drivingPoses(image, driving, request);
    const prepared = await prepareInputs(this.components, image, poses, {
      width, height, hjb: !!request.hjb, faceMasks: request.faceMasks, refMask: request.refMask, arcfaceOnnx: this.paths.arcfaceOnnx,
    });
    const result = new StableAnimatorPipeline(this.components).call(prepared.inputs, {
      ...INFERENCE_DEFAULTS,
      // a miniature's windows are its training clips, overlapping by 2 frames as in its demo
      ...(this.weights.window ? { tileSize: this.weights.window, tileOverlap: Math.min(2, this.weights.window - 1) } : {}),
      ...request,
      onWarning: (m) => { notices.push(m); request.onWarning?.(m); },
    });
    const frames = framesToImages(result.frames!);
    for (const t of [prepared.inputs.reference, prepared.inputs.referenceOriginal, prepared.inputs.poses, prepared.inputs.faceEmbedding, result.frames, result.latents]) t?.dispose();
    return { frames, driving: poses, warnings: notices };
  }

  /** The front half alone: the driving poses aligned to `image` and drawn at the output size (what a pose preview shows). */
  async drivingPoses(image: Image, driving: string | PoseSequence, request: AnimateRequest = {}): Promise<{ poses: DrivingPoses; width: number; height: number; notices: string[] }> {
    const width = request.width ?? this.weights.size ?? 512;
    const height = request.height ?? (request.width === undefined && this.weights.size ? this.weights.size : Math.max(64, Math.round((width * image.height) / image.width / 64) * 64));
    const align = request.align ?? 'learned';
    const notices: string[] = [];
    // a detector only where poses must be found: a video's, or the reference's for aligning keypoints
    const kind = typeof driving === 'string' ? await drivingKind(driving) : 'keypoints';
    const needed = kind === 'video' || (kind === 'keypoints' && align !== 'none');
    const detector = needed ? await openPoseDetector({ detector: this.paths.dwposeDir ? 'dwpose' : 'default', dwposeDir: this.paths.dwposeDir }) : undefined;
    let poses: DrivingPoses;
    try {
      poses = await prepareDriving(image, driving, {
        width, height, align, alignModel: align === 'learned' ? this.alignment() : undefined, detector, maxFrames: request.maxFrames,
        skeleton: this.weights.skeleton, onNotice: (m) => notices.push(m),
      });
    } finally {
      await detector?.dispose();
    }
    return { poses, width, height, notices };
  }

  /** The learned alignment: <weights>/Alignment, else the shipped one. */
  private alignment(): LearnedAlignment {
    const own = join(this.weights.dir, 'Alignment');
    this.alignModel ??= LearnedAlignment.fromPretrained(existsSync(join(own, ALIGNMENT_CONFIG_FILE)) ? own : DEFAULT_ALIGN_WEIGHTS);
    return this.alignModel;
  }
}

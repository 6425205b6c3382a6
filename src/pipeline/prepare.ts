// The front half of an animation, in one place for the CLI, the library (stable-animator.ts) and the demo:
//
//   1. driving poses   the reference fitted to the working size (framing.ts: crop, pad or stretch); a video
//                      (poses extracted), a keypoint file or keypoints in memory, or skeleton images, sampled
//                      at a rate (driving.ts); keypoints aligned to the framed reference's pose (StableAnimator++'s
//                      learned alignment by default) and drawn at the output size             (prepareDriving)
//   2. reference face  the identity embedding of the reference's face, and its box           (prepareInputs)
//   3. HJB face boxes  the reference's and one per frame (from the aligned face keypoints or mask images)
//   4. tensors         the reference at the output and the original size, the skeletons
//
// Step 1 needs no model and runs before the weights load, so a bad driving input fails in seconds.
import * as torch from '../torch/index.ts';
import type { Image } from '../io/image.ts';
import { readImage } from '../io/image.ts';
import type { AlignMethod } from '../align/align-frames.ts';
import type { LearnedAlignment } from '../align/learned-alignment.ts';
import type { PoseDetector } from '../pose/detector.ts';
import type { PoseFrame, PoseSequence } from '../pose/keypoints.ts';
import type { SkeletonStyle } from '../pose/render.ts';
import type { FrameProgress } from '../io/frame-folder.ts';
import type { AnimateInputs, StableAnimatorComponents } from './animate.ts';
import { alignDriving, drivingKind, loadDrivingPoses, renderDriving, sampleSequence, type DrivingPoses } from './driving.ts';
import { faceBoxesFromMaskFolder, faceBoxesFromPoses, maskBox, scaleBox, type PixelBox } from '../face/face-boxes.ts';
import { fitReference, frameBox, frameImage, framePose, personBox, type FitMode, type Framing } from './framing.ts';
import { posesToTensor, prepareReference } from './inputs.ts';
import { pickFrames } from '../io/frame-rate.ts';
import { referenceFace } from '../face/reference-face.ts';

export interface DrivingRequest {
  /** Output size. */
  width: number;
  height: number;
  align: AlignMethod;
  /** The learned block (align 'learned'). */
  alignModel?: LearnedAlignment;
  /** Finds the reference's pose and a video's poses; not needed for skeleton images or a given reference pose. */
  detector?: PoseDetector;
  /** The reference's pose when already known (normalised to the reference image); else detected. */
  referencePose?: PoseFrame;
  maxFrames?: number;
  /** Sample the driving input at this rate, or every `stride`-th frame; default `defaultFps` (the weights' training rate). */
  fps?: number;
  stride?: number;
  defaultFps?: number;
  /** How the reference is fitted to the output size (default 'crop', around the person). */
  fit?: FitMode;
  /** How skeletons are drawn (the weights' own style; default 'reference'). */
  skeleton?: SkeletonStyle;
  onProgress?: (p: FrameProgress) => void;
  onNotice?: (message: string) => void;
}

/** The driving poses with the reference they were aligned to: fitted to the output size. */
export interface PreparedDriving extends DrivingPoses {
  /** The framed reference (framing.ts): what the rest of the pipeline sees as the reference. */
  reference: Image;
  framing: Framing;
}

/** The largest person of a detected frame (by the extent of its visible body points), as a one-person frame. */
export function mainPerson(frame: PoseFrame): PoseFrame {
  const extent = (p: PoseFrame['persons'][number]) => {
    const pts = p.body.filter((k) => k[2] >= 0.3);
    if (pts.length < 2) return 0;
    const xs = pts.map((k) => k[0]), ys = pts.map((k) => k[1]);
    return (Math.max(...xs) - Math.min(...xs)) * (Math.max(...ys) - Math.min(...ys));
  };
  const best = [...frame.persons].sort((a, b) => extent(b) - extent(a))[0];
  return { persons: best ? [best] : [] };
}

/** Step 1: the reference fitted to the output size, and the driving poses aligned to it and drawn at that size. */
export async function prepareDriving(reference: Image, driving: string | PoseSequence, o: DrivingRequest): Promise<PreparedDriving> {
  const kind = typeof driving === 'string' ? await drivingKind(driving) : 'keypoints';
  let referencePose = o.referencePose;
  const needsDetector = kind === 'video' || (kind === 'keypoints' && o.align !== 'none' && !referencePose);
  if (needsDetector && !o.detector) {
    const what = typeof driving === 'string' ? driving : 'the driving keypoints';
    throw new Error(`${what}: a pose detector is needed to ${kind === 'video' ? 'extract its poses' : "find the reference's pose to align them to"}; none was given`);
  }
  // the reference's pose is found on the whole photo: a crop centres on it
  const fit = o.fit ?? 'crop';
  if (!referencePose && o.detector && ((o.align !== 'none' && kind !== 'skeletons') || fit === 'crop')) {
    referencePose = mainPerson(await o.detector.detect(reference));
  }
  const source: [number, number] = [reference.width, reference.height];
  const person = personBox(referencePose, source);
  const framing = fitReference(source, [o.width, o.height], fit, person);
  if (fit === 'crop' && !person && (framing.rect.width !== source[0] || framing.rect.height !== source[1])) {
    o.onNotice?.(`--fit crop: no person found in the reference, so it is cropped around its centre`);
  }
  const framed = frameImage(reference, framing);
  const options = {
    ...o, referencePose: referencePose && framePose(referencePose, framing), referenceSize: [framed.width, framed.height] as [number, number],
  };
  const poses = typeof driving === 'string' ? await loadDrivingPoses(driving, options) : fromSequence(driving, options);
  return { ...poses, reference: framed, framing };
}

function fromSequence(driving: PoseSequence, options: DrivingRequest & { referenceSize: [number, number] }): DrivingPoses {
  const { seq, sampling } = sampleSequence(driving, options);
  if (seq.frames.length === 0) throw new Error('the driving keypoints have no frames');
  const { frames, alignment } = alignDriving(seq, options);
  return { kind: 'keypoints', images: renderDriving(frames, options), frames, alignment, sampling };
}

export interface InputsRequest {
  width: number;
  height: number;
  /** Face boxes for HJB are needed: from `faceMasks` (one mask image per frame) or the aligned face keypoints. */
  hjb?: boolean;
  faceMasks?: string;
  /** A mask image of the reference's face, in place of the detected box. */
  refMask?: string;
  /** antelopev2's glintr100.onnx, preferred over the components' recognizer for the identity embedding. */
  arcfaceOnnx?: string;
  /**
   * The reference's face when already known (its box in reference pixels): embedded by `embed` instead of a
   * detector (the miniature's synthetic faces, which no detector finds).
   */
  knownFace?: { box: PixelBox; embed: (image: Image, box: PixelBox) => Float32Array };
}

export interface PreparedInputs {
  inputs: AnimateInputs;
  /** The reference's face box (reference pixels) and which embedder gave its identity; undefined: no face. */
  face?: { box: PixelBox; embedder: string };
  /** Frames with a face box, when HJB is on. */
  framesWithFace?: number;
}

/**
 * Steps 2-4: identity, HJB face boxes and tensors for the denoiser, from the framed reference (`driving.reference`);
 * boxes of the original `photo` (knownFace, refMask) are mapped into it.
 */
export async function prepareInputs(components: StableAnimatorComponents, photo: Image, driving: PreparedDriving, o: InputsRequest): Promise<PreparedInputs> {
  const reference = driving.reference;
  // 2. the reference's face
  let face: { box: PixelBox; embedding: Float32Array; embedder: string } | undefined;
  if (o.knownFace) {
    face = { box: frameBox(o.knownFace.box, driving.framing), embedding: o.knownFace.embed(photo, o.knownFace.box), embedder: 'given box' };
  } else {
    const found = await referenceFace(reference, { arcfaceOnnx: o.arcfaceOnnx, recognizer: components.faceRecognizer });
    if (found) face = found;
  }
  // 3. HJB face boxes at the output size
  let faceTarget: AnimateInputs['faceTarget'];
  let framesWithFace: number | undefined;
  if (o.hjb) {
    const refBox = o.refMask ? frameBox(await maskFileBox(o.refMask, photo), driving.framing) : face?.box;
    if (!refBox) throw new Error('--hjb needs the reference face: no face was found in the reference (give --ref-mask)');
    if (!o.faceMasks && !driving.frames) throw new Error('--hjb needs face boxes: give --face-masks DIR, or drive with keypoints or a video (boxes from the face keypoints)');
    // masks are one per driving input frame: the sampled ones are used
    const boxes = o.faceMasks ? await sampledMaskBoxes(o.faceMasks, driving, o) : faceBoxesFromPoses(driving.frames!, o.width, o.height);
    framesWithFace = boxes.filter((b) => b).length;
    if (framesWithFace === 0) throw new Error('--hjb: no driving frame has a face box');
    const referenceBox = scaleBox(refBox, [reference.width, reference.height], [o.width, o.height]);
    if (!referenceBox) throw new Error('--hjb: the reference face box lies outside the image');
    faceTarget = { referenceBox, frameBoxes: boxes };
  }
  // 4. tensors
  const ref = await prepareReference(reference, o.width, o.height);
  const poses = await posesToTensor(driving.images, o.width, o.height);
  return {
    inputs: { reference: ref.resized, referenceOriginal: ref.original, poses, faceEmbedding: face ? torch.tensor(face.embedding) : null, faceTarget },
    face: face && { box: face.box, embedder: face.embedder },
    framesWithFace,
  };
}

async function sampledMaskBoxes(dir: string, driving: PreparedDriving, size: { width: number; height: number }): Promise<(PixelBox | undefined)[]> {
  const all = await faceBoxesFromMaskFolder(dir, size.width, size.height);
  const { indices } = driving.sampling;
  const last = indices.at(-1) ?? 0;
  if (all.length <= last) throw new Error(`--face-masks ${dir}: ${all.length} masks; expected one per driving frame, at least ${last + 1} (the sampled frames reach frame ${last})`);
  return pickFrames(all, driving.sampling);
}

async function maskFileBox(path: string, reference: Image): Promise<PixelBox> {
  const mask = await readImage(path, { channels: 3 });
  const box = maskBox(mask);
  if (!box) throw new Error(`--ref-mask ${path}: the mask has no white pixels`);
  return scaleBox(box, [mask.width, mask.height], [reference.width, reference.height])!;
}

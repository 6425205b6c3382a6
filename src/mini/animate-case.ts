// A held-out case through the whole StableAnimator++ path: align the perturbed driving poses to the reference,
// draw them, animate (optionally with HJB), and score the output against the ground truth. Shared by
// `stable-animator demo` and `stable-animator ablate`, so both measure the same thing.
//
// Scores: L1, PSNR, SSIM over whole frames and PSNR over the moving region, each beside the score of the
// reference repeated on every frame (eval/reference-baseline.ts); CSIM = cosine between the face-ID embeddings of the reference's
// face and of each output frame's face, cropped where the ground truth has it (no detector finds the
// synthetic faces; a face drawn elsewhere scores low, as it should); Dis = body-keypoint distance between the
// aligned and the ground-truth poses (normalised coordinates).
import type { Image } from '../io/image.ts';
import { cosineSimilarity } from '../face/embed.ts';
import type { AlignMethod } from '../align/align-frames.ts';
import type { LearnedAlignment } from '../align/learned-alignment.ts';
import type { IResNet } from '../models/face/iresnet.ts';
import { scoreWithBaseline, type FrameScores } from '../eval/reference-baseline.ts';
import { framesToTensor } from '../eval/evaluate.ts';
import { poseDistance } from '../eval/pose-distance.ts';
import { StableAnimatorPipeline, type StableAnimatorComponents, type StepProgress } from '../pipeline/animate.ts';
import { clipBox } from '../face/face-boxes.ts';
import { prepareDriving, prepareInputs } from '../pipeline/prepare.ts';
import type { HjbOptions, HjbStepReport } from '../pipeline/hjb.ts';
import { framesToImages } from '../pipeline/outputs.ts';
import type { PoseFrame } from '../pose/keypoints.ts';
import { renderPose, type SkeletonStyle } from '../pose/render.ts';
import { embedFace } from './face-id-embedder.ts';
import type { HeldOutCase } from './held-out-case.ts';

export interface CaseSettings {
  align: AlignMethod;
  /** Needed for align 'learned'. */
  alignModel?: LearnedAlignment;
  /** HJB face optimisation; off when undefined. */
  hjb?: HjbOptions;
  steps: number;
  guidance: number;
  seed: number;
  /** Frames per window (the miniature's training clip length) and the overlap of windows. */
  tileSize: number;
  tileOverlap: number;
  /** How skeletons are drawn for the model (the miniature's miniature.json says which it was trained on). */
  skeleton?: SkeletonStyle;
  onProgress?: (p: StepProgress) => void;
}

export interface CaseMetrics extends FrameScores {
  csim: number;
  dis: number;
  /** The frame scores of the reference repeated on every frame. */
  baseline: FrameScores;
  /** Fraction of the pixels where the person moved (the moving region of movingPsnr). */
  movingFraction: number;
}

/** Means over cases (NaN scores, e.g. CSIM of a case without a visible face, left out of their mean). */
export function meanCaseMetrics(cases: readonly CaseMetrics[]): CaseMetrics {
  const avg = (values: number[]) => {
    const finite = values.filter((v) => Number.isFinite(v));
    return finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : Number.NaN;
  };
  const frame = (pick: (m: CaseMetrics) => FrameScores): FrameScores => ({
    l1: avg(cases.map((m) => pick(m).l1)), psnr: avg(cases.map((m) => pick(m).psnr)),
    ssim: avg(cases.map((m) => pick(m).ssim)), movingPsnr: avg(cases.map((m) => pick(m).movingPsnr)),
  });
  return {
    ...frame((m) => m), baseline: frame((m) => m.baseline), movingFraction: avg(cases.map((m) => m.movingFraction)),
    csim: avg(cases.map((m) => m.csim)), dis: avg(cases.map((m) => m.dis)),
  };
}

export interface CaseResult {
  aligned: PoseFrame[];
  drivingSkeletons: Image[];
  alignedSkeletons: Image[];
  output: Image[];
  metrics: CaseMetrics;
  hjb: HjbStepReport[];
  seconds: number;
}

/** The reference's face embedding, the identity every output frame is compared with. */
export function referenceEmbedding(recognizer: IResNet, c: HeldOutCase): Float32Array {
  return embedFace(recognizer, c.reference, c.referenceFaceBox);
}

/** Mean CSIM against the reference embedding over the frames where the ground truth shows a face; NaN when none does. */
export function caseCsim(recognizer: IResNet, c: HeldOutCase, ref: Float32Array, output: readonly Image[]): number {
  const sims = output.flatMap((frame, f) => {
    const box = c.truthFaceBoxes[f];
    return box ? [cosineSimilarity(ref, embedFace(recognizer, frame, box))] : [];
  });
  return sims.length > 0 ? sims.reduce((s, v) => s + v, 0) / sims.length : Number.NaN;
}

/** Body Dis of aligned poses against the ground truth, over frames where both show the person. */
export function caseDis(c: HeldOutCase, aligned: readonly PoseFrame[]): number {
  const pairs = aligned.flatMap((f, i) => (f.persons[0] && c.truthPoses[i]!.persons[0] ? [[f.persons[0], c.truthPoses[i]!.persons[0]] as const] : []));
  return poseDistance(pairs.map((p) => p[0]), pairs.map((p) => p[1])).mean;
}

export async function animateCase(c: HeldOutCase, components: StableAnimatorComponents, s: CaseSettings): Promise<CaseResult> {
  const recognizer = components.faceRecognizer;
  if (!recognizer) throw new Error('animateCase: the components have no face recognizer (needed for the face embedding and CSIM)');
  const started = performance.now();
  const size = c.size;
  // the same front half as `animate` and the library: the synthetic figure's pose and face box are known
  const driving = await prepareDriving(c.reference, { size: [size, size], frames: c.driving }, {
    width: size, height: size, align: s.align, alignModel: s.alignModel, referencePose: c.referencePose, skeleton: s.skeleton,
  });
  const aligned = driving.frames!;
  const drivingSkeletons = c.driving.map((f) => renderPose(f, size, size, { style: s.skeleton }));
  const embedding = referenceEmbedding(recognizer, c);
  const { inputs } = await prepareInputs(components, c.reference, driving, {
    width: size, height: size, hjb: !!s.hjb, knownFace: { box: clipBox(c.referenceFaceBox, size, size)!, embed: () => embedding },
  });
  const result = new StableAnimatorPipeline(components).call(
    inputs,
    {
      numInferenceSteps: s.steps, minGuidanceScale: s.guidance, maxGuidanceScale: s.guidance, seed: s.seed,
      tileSize: s.tileSize, tileOverlap: s.tileOverlap, hjb: s.hjb, onProgress: s.onProgress,
      // the miniature is small: every window and both guidance branches in one UNet call use the cores best
      windowsPerCall: 64, batchGuidance: true,
    },
  );
  const output = framesToImages(result.frames!);
  for (const t of [inputs.reference, inputs.referenceOriginal, inputs.poses, inputs.faceEmbedding, result.frames!, result.latents]) t?.dispose();
  const [pred, truth, ref] = [framesToTensor(output), framesToTensor(c.truth), framesToTensor([c.reference])];
  const metrics: CaseMetrics = {
    ...scoreWithBaseline(pred, truth, ref),
    csim: caseCsim(recognizer, c, embedding, output), dis: caseDis(c, aligned),
  };
  for (const t of [pred, truth, ref]) t.dispose();
  return { aligned, drivingSkeletons, alignedSkeletons: driving.images, output, metrics, hjb: result.hjb, seconds: (performance.now() - started) / 1000 };
}

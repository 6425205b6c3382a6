// Validation during training: a short animation of a held clip through the inference pipeline (its reference
// frame animated with its own skeletons), written as an mp4, and CSIM: the mean cosine similarity between the
// ArcFace embedding of the reference's largest face and that of each generated frame's largest face (frames
// without a detected face are left out). CSIM needs a face embedder (glintr100.onnx or the iResNet weights);
// without one it is skipped, and the result says why.
import type { Tensor } from '../../torch/index.ts';
import * as torch from '../../torch/index.ts';
import { cosineSimilarity } from '../../face/embed.ts';
import type { Image } from '../../io/image.ts';
import { StableAnimatorPipeline, type StableAnimatorComponents } from '../../pipeline/animate.ts';
import { imageToTensor, posesToTensor } from '../../pipeline/inputs.ts';
import { framesToImages, writeFrames } from '../../pipeline/outputs.ts';
import type { LoadedSample } from './clip-loader.ts';

/**
 * What is known of where the face is: the dataset's face mask at the image's size (1 = face). Embedders that
 * detect faces may ignore it; one without a detector (the miniature's face-ID net) crops the mask's box.
 */
export interface FaceHint {
  mask?: Uint8Array;
}

/** The embedding of an image's largest face; undefined when it has none. */
export type LargestFaceEmbedding = (image: Image, hint?: FaceHint) => Promise<Float32Array | undefined>;

export interface ValidationOptions {
  steps: number;
  guidance: number;
  seed: number;
  fps: number;
  noiseAugStrength: number;
  /** Face embedder for CSIM; undefined: CSIM skipped. */
  faceEmbedding?: LargestFaceEmbedding;
}

export interface ValidationResult {
  video: string;
  /** Undefined when skipped (see csimSkipped). */
  csim?: number;
  /** Why CSIM was not computed. */
  csimSkipped?: string;
  framesWithFace: number;
  seconds: number;
}

/** Mean CSIM of `frames` against `reference`; undefined (with the reason) when the reference or every frame lacks a face. */
export async function meanCsim(embed: LargestFaceEmbedding, reference: Image, frames: readonly Image[],
  hints: { reference?: FaceHint; frames?: readonly FaceHint[] } = {}): Promise<{ csim?: number; csimSkipped?: string; framesWithFace: number }> {
  const ref = await embed(reference, hints.reference);
  if (!ref) return { framesWithFace: 0, csimSkipped: 'no face found in the reference frame' };
  const sims: number[] = [];
  for (const [i, f] of frames.entries()) {
    const e = await embed(f, hints.frames?.[i]);
    if (e) sims.push(cosineSimilarity(ref, e));
  }
  if (sims.length === 0) return { framesWithFace: 0, csimSkipped: `no face found in any of the ${frames.length} generated frames` };
  return { csim: sims.reduce((a, b) => a + b, 0) / sims.length, framesWithFace: sims.length };
}

/**
 * Animates `sample` (reference frame + its skeletons) with the current weights and writes `videoPath`.
 * The pipeline puts every component in eval mode without gradients; `restore` puts the training state back.
 */
export async function validateAnimation(components: StableAnimatorComponents, sample: LoadedSample, videoPath: string,
  opts: ValidationOptions, restore: () => void): Promise<ValidationResult> {
  const start = performance.now();
  let frames: Tensor | undefined;
  try {
    const pipeline = new StableAnimatorPipeline(components);
    const reference = imageToTensor(sample.referenceImage);
    const poses = await posesToTensor(sample.poses, sample.width, sample.height);
    const face = sample.faceEmbedding ? torch.tensor(sample.faceEmbedding) : null;
    const result = pipeline.call({ reference, poses, faceEmbedding: face }, {
      numInferenceSteps: opts.steps, minGuidanceScale: opts.guidance, maxGuidanceScale: opts.guidance, seed: opts.seed,
      fps: opts.fps, noiseAugStrength: opts.noiseAugStrength, // one window over the whole clip; the overlap only has to be valid for it
      tileSize: sample.poses.length, tileOverlap: Math.min(4, sample.poses.length - 1), missingFace: 'zero-embedding',
    });
    for (const t of [reference, poses, face, result.latents]) t?.dispose();
    frames = result.frames!;
  } finally {
    restore();
  }
  const images = framesToImages(frames);
  frames.dispose();
  await writeFrames(videoPath, images, { fps: opts.fps + 1 });
  const csim = opts.faceEmbedding
    ? await meanCsim(opts.faceEmbedding, sample.referenceImage, images, { reference: { mask: sample.referenceMask }, frames: sample.masks.map((mask) => ({ mask })) })
    : { framesWithFace: 0, csimSkipped: 'no face embedder (arcfaceOnnx or arcface weights)' };
  return { video: videoPath, ...csim, seconds: (performance.now() - start) / 1000 };
}

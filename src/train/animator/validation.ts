// Validation during training: a short animation of a held clip through the inference pipeline (its reference
// frame animated with its own skeletons), written as an mp4, and CSIM: the mean cosine similarity between the
// ArcFace embedding of the reference's largest face and that of each generated frame's largest face (frames
// without a detected face are left out). CSIM needs ArcFace weights (glintr100.onnx); without them it is
// skipped, and the caller says so.
import type { Tensor } from '../../torch/index.ts';
import * as torch from '../../torch/index.ts';
import { cosineSimilarity, type FaceEmbedder } from '../../face/embed.ts';
import { detectFaces, largestFace } from '../../face/detect.ts';
import type { Image } from '../../io/image.ts';
import { StableAnimatorPipeline, type StableAnimatorComponents } from '../../pipeline/animate.ts';
import { imageToTensor, posesToTensor } from '../../pipeline/inputs.ts';
import { framesToImages, writeFrames } from '../../pipeline/outputs.ts';
import type { LoadedSample } from './clip-loader.ts';

export interface ValidationOptions {
  steps: number;
  guidance: number;
  seed: number;
  fps: number;
  noiseAugStrength: number;
  /** ArcFace embedder for CSIM; undefined: CSIM skipped. */
  embedder?: FaceEmbedder;
}

export interface ValidationResult {
  video: string;
  /** Undefined when skipped (no embedder, or no face in the reference). */
  csim?: number;
  framesWithFace: number;
  seconds: number;
}

async function faceEmbedding(embedder: FaceEmbedder, image: Image): Promise<Float32Array | undefined> {
  const face = largestFace(await detectFaces(image));
  return face ? embedder.embedFace(image, face) : undefined;
}

/** Mean CSIM of `frames` against `reference`; undefined when the reference has no face or no frame does. */
export async function meanCsim(embedder: FaceEmbedder, reference: Image, frames: readonly Image[]): Promise<{ csim?: number; framesWithFace: number }> {
  const ref = await faceEmbedding(embedder, reference);
  if (!ref) return { framesWithFace: 0 };
  const sims: number[] = [];
  for (const f of frames) {
    const e = await faceEmbedding(embedder, f);
    if (e) sims.push(cosineSimilarity(ref, e));
  }
  return { csim: sims.length ? sims.reduce((a, b) => a + b, 0) / sims.length : undefined, framesWithFace: sims.length };
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
      fps: opts.fps, noiseAugStrength: opts.noiseAugStrength, tileSize: sample.poses.length, missingFace: 'zero-embedding',
    });
    for (const t of [reference, poses, face, result.latents]) t?.dispose();
    frames = result.frames!;
  } finally {
    restore();
  }
  const images = framesToImages(frames);
  frames.dispose();
  await writeFrames(videoPath, images, { fps: opts.fps + 1 });
  const csim = opts.embedder ? await meanCsim(opts.embedder, sample.referenceImage, images) : { framesWithFace: 0 };
  return { video: videoPath, ...csim, seconds: (performance.now() - start) / 1000 };
}

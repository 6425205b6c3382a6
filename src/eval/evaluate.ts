// `eval`: a generated video against its ground truth, frame by frame.
//   L1, PSNR, PSNR*, SSIM (image-metrics.ts), LPIPS when weights are given (lpips.ts); CSIM, the cosine
//   similarity of face identity embeddings between each generated frame's largest face and the reference
//   photo's (or, without a reference, the ground-truth frame's); pose distance between the keypoints found
//   in the generated and the ground-truth frames (pose-distance.ts, body points, normalised coordinates);
//   FVD over clips of 16 frames when I3D weights are given (fvd.ts).
// Frames are read in chunks, so long videos do not have to fit in memory; the pooled numbers equal the
// metrics on the whole sequence (PSNR from the total squared error, the others as means over frames).

import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import type { FrameProgress } from '../io/frame-folder.ts';
import { readImage, resizeImage, type Image } from '../io/image.ts';
import { decodeFrames } from '../io/video.ts';
import { detectFaces, largestFace } from '../face/detect.ts';
import { cosineSimilarity, createFaceEmbedder } from '../face/embed.ts';
import { IResNet } from '../models/face/iresnet.ts';
import type { PoseDetector } from '../pose/detector.ts';
import { NUM_BODY, NUM_FACE, NUM_HAND, type Keypoint, type PersonPose } from '../pose/keypoints.ts';
import { referenceFace } from '../face/reference-face.ts';
import { l1, psnrStar, ssim } from './image-metrics.ts';
import { BaselineAccumulator, type FrameScores } from './reference-baseline.ts';
import { loadLpips, lpips as lpipsDistance } from './lpips.ts';
import { FvdAccumulator, type FvdResult, type I3DLayer } from './fvd.ts';
import { InceptionI3d } from '../models/i3d/inception-i3d.ts';
import { poseDistance, poolDistances, type PoseDistance } from './pose-distance.ts';

export interface EvaluateOptions {
  /** Reference photo for CSIM (default: each ground-truth frame). */
  ref?: string;
  /** ArcFace for CSIM: glintr100_torch.pth / .safetensors (iResNet on our engine) or glintr100.onnx. Default: the embedded FaceRes. */
  arcface?: string;
  /** LPIPS lin weights (lpips' alex.pth / vgg.pth) and, unless included, the torchvision backbone. */
  lpips?: { lin: string; backbone?: string };
  /** FVD: pytorch-i3d weights (rgb_imagenet.pt, i3d_pretrained_400.pt, .safetensors), the embedding and the clip stride. */
  fvd?: { weights: string; layer?: I3DLayer; stride?: number; bnEps?: number };
  /** Pose distance needs a detector; without one it is skipped. */
  poseDetector?: PoseDetector;
  /** Skip CSIM. */
  noCsim?: boolean;
  maxFrames?: number;
  /** Frames per metric chunk (default 8). */
  chunk?: number;
  onProgress?: (progress: FrameProgress) => void;
}

export interface EvalMetrics {
  format: 'stable-animator-eval/1';
  pred: string;
  gt: string;
  frames: number;
  size: [number, number];
  l1: number;
  psnr: number;
  psnrStar: number;
  ssim: number;
  lpips?: { value: number; net: string };
  csim?: { value: number; embedder: string; against: 'reference' | 'ground truth'; framesWithFace: number };
  poseDistance?: { value: number; keypoints: number; detector: string };
  /** value is null (NaN) with fewer than 2 clips per side. */
  fvd?: FvdResult & { weights: string };
  /**
   * With a reference photo: PSNR over the pixels where the person moved, and every frame score of the
   * reference repeated on every frame (reference-baseline.ts), what an animation has to beat.
   */
  movingPsnr?: number;
  movingFraction?: number;
  baseline?: FrameScores;
  notes: string[];
}

/** Frames [N, 3, H, W] in [0, 1] from RGB images. */
export function framesToTensor(images: readonly Image[]): Tensor {
  const [w, h] = [images[0].width, images[0].height];
  const data = new Uint8Array(images.length * w * h * 3);
  images.forEach((im, i) => data.set(im.data, i * w * h * 3));
  return torch.scope(() => torch.tensor(data, { shape: [images.length, h, w, 3], dtype: 'u8' }).permute([0, 3, 1, 2]).float().div(255));
}

type FaceEmbed = (image: Image) => Promise<Float32Array | undefined>;

async function openFaceEmbedder(path: string | undefined): Promise<{ embed: FaceEmbed; name: string; dispose: () => Promise<void> }> {
  if (path && !path.endsWith('.onnx')) {
    const recognizer = IResNet.fromPretrained(path);
    return { embed: async (image) => (await referenceFace(image, { recognizer }))?.embedding, name: 'arcface-iresnet (glintr100_torch)', dispose: async () => {} };
  }
  const embedder = await createFaceEmbedder(path);
  return {
    embed: async (image) => {
      const face = largestFace(await detectFaces(image));
      return face ? embedder.embedFace(image, face) : undefined;
    },
    name: embedder.name,
    dispose: () => embedder.dispose(),
  };
}

const missingPerson = (): PersonPose => {
  const zeros = (n: number) => Array.from({ length: n }, (): Keypoint => [0, 0, 0]);
  return { body: zeros(NUM_BODY), hands: [zeros(NUM_HAND), zeros(NUM_HAND)], face: zeros(NUM_FACE) };
};

/** The frame's person with the most visible body points (a frame without one compares as all-missing). */
function mainPerson(persons: PersonPose[]): PersonPose {
  const visible = (p: PersonPose) => p.body.filter((k) => k[2] >= 0.3).length;
  return persons.reduce<PersonPose | undefined>((best, p) => (!best || visible(p) > visible(best) ? p : best), undefined) ?? missingPerson();
}

/** Pairs the frames of two sources (videos or frame folders), stopping at the shorter (with a note). */
async function* pairedFrames(pred: string, gt: string, notes: string[], maxFrames?: number): AsyncGenerator<[Image, Image]> {
  const a = decodeFrames(pred, { maxFrames });
  const b = decodeFrames(gt, { maxFrames });
  try {
    for (let i = 0; ; i++) {
      const [x, y] = await Promise.all([a.next(), b.next()]);
      if (x.done !== y.done) notes.push(`${x.done ? gt : pred} has more frames than ${x.done ? pred : gt}; the first ${i} are compared`);
      if (x.done || y.done) return;
      yield [x.value, y.value];
    }
  } finally {
    await Promise.all([a.return(undefined), b.return(undefined)]);
  }
}

export async function evaluateVideo(pred: string, gt: string, options: EvaluateOptions = {}): Promise<EvalMetrics> {
  const notes: string[] = [];
  const chunkSize = options.chunk ?? 8;
  const lpipsModel = options.lpips ? loadLpips(options.lpips.lin, options.lpips.backbone) : undefined;
  const fvd = options.fvd
    ? new FvdAccumulator(InceptionI3d.fromPretrained(options.fvd.weights, { bnEps: options.fvd.bnEps }), { layer: options.fvd.layer, stride: options.fvd.stride })
    : undefined;
  const faces = options.noCsim ? undefined : await openFaceEmbedder(options.arcface);
  if (faces && !options.arcface) notes.push('CSIM uses the embedded FaceRes face embedder (no --arcface given): comparable across runs here, not with ArcFace numbers in papers');
  try {
    let refEmbedding: Float32Array | undefined;
    if (faces && options.ref) {
      refEmbedding = await faces.embed(await readImage(options.ref, { channels: 3 }));
      if (!refEmbedding) throw new Error(`no face found in the reference ${options.ref}`);
    }
    let frames = 0;
    let size: [number, number] | undefined;
    let absSum = 0, sqSum = 0, psnrStarSum = 0, ssimSum = 0, lpipsSum = 0, csimSum = 0, csimCount = 0;
    const distances: PoseDistance[] = [];
    let resized = false;
    let baseline: BaselineAccumulator | undefined;
    let chunk: [Image, Image][] = [];
    const flush = () => {
      if (chunk.length === 0) return;
      const n = chunk.length;
      torch.scope(() => {
        const p = framesToTensor(chunk.map(([x]) => x));
        const g = framesToTensor(chunk.map(([, y]) => y));
        absSum += l1(p, g) * n;
        sqSum += p.double().sub(g.double()).square().mean().item() * n;
        psnrStarSum += psnrStar(p, g) * n;
        ssimSum += ssim(p, g) * n;
        if (lpipsModel) lpipsSum += lpipsDistance(lpipsModel, p, g) * n;
        baseline?.push(p, g);
      });
      chunk = [];
    };
    for await (let [p, g] of pairedFrames(pred, gt, notes, options.maxFrames)) {
      if (!size && options.ref) {
        const photo = await readImage(options.ref, { channels: 3 });
        if (photo.width !== g.width || photo.height !== g.height) notes.push(`the reference ${options.ref} (${photo.width}x${photo.height}) was resized to the frames' ${g.width}x${g.height} for the baseline`);
        baseline = new BaselineAccumulator(torch.keep(framesToTensor([photo.width === g.width && photo.height === g.height ? photo : await resizeImage(photo, g.width, g.height, { kernel: 'linear' })])));
      }
      size ??= [g.width, g.height];
      if (g.width !== size[0] || g.height !== size[1]) throw new Error(`${gt}: frame ${frames} is ${g.width}x${g.height}, the first is ${size[0]}x${size[1]}`);
      if (p.width !== g.width || p.height !== g.height) {
        if (!resized) notes.push(`prediction frames (${p.width}x${p.height}) resized to the ground truth's ${g.width}x${g.height}`);
        resized = true;
        p = await resizeImage(p, g.width, g.height, { kernel: 'linear' });
      }
      if (faces) {
        const e = await faces.embed(p);
        const against = refEmbedding ?? (e ? await faces.embed(g) : undefined);
        if (e && against) {
          csimSum += cosineSimilarity(e, against);
          csimCount++;
        }
      }
      if (options.poseDetector) {
        const a = mainPerson((await options.poseDetector.detect(p)).persons);
        const b = mainPerson((await options.poseDetector.detect(g)).persons);
        distances.push(poseDistance([a], [b]));
      }
      if (fvd) torch.scope(() => fvd.push(framesToTensor([p]).squeeze(0), framesToTensor([g]).squeeze(0)));
      chunk.push([p, g]);
      frames++;
      if (chunk.length >= chunkSize) flush();
      options.onProgress?.({ frames });
    }
    flush();
    if (frames === 0 || !size) throw new Error(`no frames to compare in ${pred} and ${gt}`);
    const metrics: EvalMetrics = {
      format: 'stable-animator-eval/1',
      pred,
      gt,
      frames,
      size,
      l1: absSum / frames,
      psnr: 10 * Math.log10(1 / (sqSum / frames)),
      psnrStar: psnrStarSum / frames,
      ssim: ssimSum / frames,
      notes,
    };
    if (lpipsModel) metrics.lpips = { value: lpipsSum / frames, net: lpipsModel.kind };
    if (baseline) {
      const b = baseline.result();
      Object.assign(metrics, { movingPsnr: b.movingPsnr, movingFraction: b.movingFraction, baseline: b.baseline });
      baseline.dispose();
    }
    if (faces) {
      if (csimCount === 0) notes.push('CSIM: no frame had a face in both images');
      metrics.csim = { value: csimCount ? csimSum / csimCount : Number.NaN, embedder: faces.name, against: refEmbedding ? 'reference' : 'ground truth', framesWithFace: csimCount };
    }
    if (options.poseDetector) {
      const pooled = poolDistances(distances);
      metrics.poseDistance = { value: pooled.mean, keypoints: pooled.count, detector: options.poseDetector.name };
    }
    if (fvd && options.fvd) {
      const result = fvd.result();
      const clips = fvd.predEmbeddings.length;
      if (!result) notes.push(`FVD: ${clips} clip(s) of ${fvd.clipFrames} frames per video, at least 2 are needed for a covariance (use a longer video or --fvd-stride)`);
      else notes.push(`FVD compares the ${clips} clips of one video pair: a distance between two small clip sets, not comparable with papers' FVD over thousands of clips`);
      metrics.fvd = { ...(result ?? { value: Number.NaN, clips, clipFrames: fvd.clipFrames, stride: fvd.stride, layer: fvd.layer, dims: 0 }), weights: options.fvd.weights };
    }
    return metrics;
  } finally {
    fvd?.dispose();
    await faces?.dispose();
  }
}

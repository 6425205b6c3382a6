// HJB-equation-based face optimisation (paper Sec. III-C, Algorithm 1; reference `inference_op.py`,
// `inference_pipeline_animation_pro.py`, `euler_discrete_pro.py`).
//
// At each active denoising step i (startStep <= i <= endStep, both inclusive) the sampler's predicted clean
// latent x0 (from the guided model output) is refined before the Euler update:
//   z0 <- x0 (detached, requires grad);  Adam([z0], lr = lr·(1 − i/N))
//   repeat `iterations` times:
//     frames = VAE.decode(z0 / 0.18215)                         chunks of decodeChunkSize, checkpointed
//     x      = ((frames/2 + 0.5).clamp(0, 1)·255) / 255 − 0.5) / 0.5
//     crop_k = bilinear(x_k[box_k], 112x112, align_corners=False)   frames with a face box only
//     loss   = mean_k |1 − cos(ArcFace(crop_k), e_ref)|
//     loss.backward(); Adam step
//   x <- x + (x − z0)/σ_i · (σ_{i+1} − σ_i)                     (the Euler update with the optimised x0)
// Gradients flow through the VAE decoder only (the UNet is not in the graph). Unlike the reference, which keeps
// the graphs of all chunks until one backward, each chunk is backpropagated on its own: the loss is a sum over
// frames and chunks are decoded independently, so the gradient is the same and memory stays bounded by one
// chunk. Where the decoded pixels come from is pluggable (`HjbDecodeWindow`): whole frames (`window: 'full'`, the
// reference and the default) or a latent window around the faces (`window: 'face'`: hjb-window.ts), which decodes a
// fraction of the pixels and skips frames without a face, at the price of an approximate gradient (docs/pipeline.md:
// no margin kept the in-box gradient within 1e-2 of the full path's, so it is not the default).
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import type { AutoencoderKLTemporalDecoder } from '../models/svd/autoencoder.ts';
import type { IResNet } from '../models/face/iresnet.ts';
import type { PixelBox } from '../face/face-boxes.ts';
import { faceWindow } from './hjb-window.ts';

export interface HjbOptions {
  /** First active step (0-based, inclusive). Default 0. */
  startStep?: number;
  /** Last active step (inclusive). Default 20 (the reference's; the paper uses the first 10 steps). */
  endStep?: number;
  /** Adam iterations per active step. Default 3. */
  iterations?: number;
  /** Base learning rate η; step i uses η·(1 − i/N). Default 0.1. */
  lr?: number;
  /** Frames decoded (and backpropagated) at a time. Default 4. */
  decodeChunkSize?: number;
  /** Gradient checkpointing of the VAE decoder's blocks during the optimisation. Default true. */
  checkpointing?: boolean;
  /** Also evaluate the face loss after the last iteration (one more decode without gradients). Default false. */
  trackLoss?: boolean;
  /**
   * Where decoded pixels come from: 'full' (default) whole frames as the reference, 'face' a latent window around
   * the faces (several times cheaper, approximate gradient), or a custom window.
   */
  window?: HjbWindowKind | HjbDecodeWindow;
  /** Latent pixels around the faces with window 'face' (default DEFAULT_HJB_MARGIN). */
  windowMargin?: number;
}

/** The faces to optimise: the reference's face box (at the reference tensor's size) and one box per frame. */
export interface HjbFaceTarget {
  referenceBox: PixelBox;
  /** Per output frame, in output pixels; frames without a box do not enter the loss. */
  frameBoxes: readonly (PixelBox | undefined)[];
}

/**
 * Decodes a chunk of latents (already divided by the VAE scaling factor) into the pixels the face loss reads.
 * `boxes` are in output-frame pixels; the window returns them in the coordinates of its images.
 */
export interface HjbDecodeWindow {
  /** The frames decoded together, [start, length] each (default: every `size` frames, those with a face). */
  chunks?(boxes: readonly (PixelBox | undefined)[], size: number): [number, number][];
  decode(vae: AutoencoderKLTemporalDecoder, latents: Tensor, boxes: readonly (PixelBox | undefined)[]): { images: Tensor; boxes: (PixelBox | undefined)[] };
}

export type HjbWindowKind = 'full' | 'face';
export const HJB_WINDOWS: readonly HjbWindowKind[] = ['full', 'face'];

/** Every `size` frames as one chunk ([start, length]), the chunks with at least one face box. */
export function fixedChunks(boxes: readonly (PixelBox | undefined)[], size: number): [number, number][] {
  const chunks: [number, number][] = [];
  for (let s = 0; s < boxes.length; s += size) {
    const len = Math.min(size, boxes.length - s);
    if (boxes.slice(s, s + len).some((b) => b)) chunks.push([s, len]);
  }
  return chunks;
}

/** The whole frames, decoded as one clip of the chunk's length (as the reference's chunked decode). */
export const fullFrameWindow: HjbDecodeWindow = {
  chunks: fixedChunks,
  decode: (vae, latents, boxes) => ({ images: vae.decode(latents, latents.size(0)), boxes: [...boxes] }),
};

export interface HjbStepReport {
  step: number;
  lr: number;
  /** The loss at each iteration, before its update. */
  losses: number[];
  /** The loss after the last update (with trackLoss). */
  finalLoss?: number;
}

/** ArcFace's input side (glintr100); a recognizer's own `config.input_size` is used when it differs. */
export const FACE_CROP_SIZE = 112;

/** The reference's pixel round trip: [-1,1] decoder output -> clamp to [0,1]·255 -> ArcFace's [-1,1]. */
export function toArcFaceRange(images: Tensor): Tensor {
  return images.div(2).add(0.5).clamp(0, 1).mul(255).div(255).sub(0.5).div(0.5);
}

/** Crops each box of images [n,3,H,W] and resizes it bilinearly to size x size (align_corners=False) -> [m,3,size,size]. */
export function cropFaces(images: Tensor, boxes: readonly (PixelBox | undefined)[], size = FACE_CROP_SIZE): { crops: Tensor; count: number } | undefined {
  const crops: Tensor[] = [];
  boxes.forEach((box, k) => {
    if (!box) return;
    const [x1, y1, x2, y2] = box;
    const face = images.select(0, k).narrow(1, y1, y2 - y1).narrow(2, x1, x2 - x1).unsqueeze(0);
    crops.push(torch.interpolateBilinear(face, [size, size], false));
  });
  return crops.length ? { crops: torch.cat(crops, 0), count: crops.length } : undefined;
}

export class HjbFaceOptimizer {
  readonly startStep: number;
  readonly endStep: number;
  readonly iterations: number;
  readonly lr: number;
  readonly decodeChunkSize: number;
  readonly checkpointing: boolean;
  readonly trackLoss: boolean;
  readonly window: HjbDecodeWindow;
  /** The reference face's embedding [1, D]. */
  readonly referenceEmbedding: Tensor;
  readonly frameBoxes: readonly (PixelBox | undefined)[];
  readonly faceFrames: number;

  /**
   * reference: the reference image in [-1,1], [1,3,H,W] (the size the reference box is given in). The VAE and
   * the recognizer are put in eval mode and frozen (requiresGrad false): only the latent is optimised.
   */
  constructor(
    readonly vae: AutoencoderKLTemporalDecoder,
    readonly recognizer: IResNet,
    reference: Tensor,
    target: HjbFaceTarget,
    opts: HjbOptions = {},
  ) {
    this.startStep = opts.startStep ?? 0;
    this.endStep = opts.endStep ?? 20;
    this.iterations = opts.iterations ?? 3;
    this.lr = opts.lr ?? 0.1;
    this.decodeChunkSize = opts.decodeChunkSize ?? 4;
    this.checkpointing = opts.checkpointing ?? true;
    this.trackLoss = opts.trackLoss ?? false;
    const window = opts.window ?? 'full';
    if (typeof window === 'string' && !HJB_WINDOWS.includes(window)) throw new Error(`HJB: window must be ${HJB_WINDOWS.join(' or ')}, got '${window}'`);
    this.window = window === 'full' ? fullFrameWindow : window === 'face' ? faceWindow(opts.windowMargin) : window;
    for (const [name, v] of [['iterations', this.iterations], ['decodeChunkSize', this.decodeChunkSize]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`HJB: ${name} must be a positive integer, got ${v}`);
    }
    if (!(this.lr > 0)) throw new Error(`HJB: lr must be positive, got ${this.lr}`);
    if (this.endStep < this.startStep) throw new Error(`HJB: endStep ${this.endStep} is before startStep ${this.startStep}`);
    vae.eval().requiresGrad_(false);
    recognizer.eval().requiresGrad_(false);
    this.frameBoxes = target.frameBoxes;
    this.faceFrames = target.frameBoxes.filter((b) => b !== undefined).length;
    if (this.faceFrames === 0) throw new Error('HJB: no frame has a face box, nothing to optimise');
    this.referenceEmbedding = torch.keep(torch.noGrad(() => torch.scope(() => {
      const dtype = this.recognizerDtype();
      const face = cropFaces(toArcFaceRange(reference.to('f32')), [target.referenceBox], this.recognizer.config.input_size);
      if (!face) throw new Error('HJB: the reference face box is empty');
      return this.recognizer.forward(face.crops.to(dtype)).to('f32');
    })));
  }

  isActive(step: number): boolean {
    return step >= this.startStep && step <= this.endStep;
  }

  /**
   * Refines x0 [1, F, C, h, w] (or [F, C, h, w]) at step `step` of `numSteps`: returns the optimised latent
   * (same shape, f32, no grad) and a report of the losses.
   */
  optimize(x0: Tensor, step: number, numSteps: number): { z0: Tensor; report: HjbStepReport } {
    const lr = this.lr * (1 - step / numSteps);
    const shape = x0.shape;
    return torch.scope(() => {
      const z0 = torch.noGrad(() => x0.reshape([-1, ...shape.slice(-3)]).to('f32').clone()).requiresGrad_();
      if (z0.size(0) !== this.frameBoxes.length) throw new Error(`HJB: ${z0.size(0)} latent frames but ${this.frameBoxes.length} face boxes`);
      const optimizer = new nn.Adam([z0], { lr });
      const losses: number[] = [];
      try {
        this.withDecoderSetup(() => {
          for (let it = 0; it < this.iterations; it++) {
            optimizer.zeroGrad();
            losses.push(this.backwardFaceLoss(z0));
            optimizer.step();
          }
        });
      } finally {
        // Adam's moments are kept outside every scope: free them with the step (21 steps per clip)
        for (const t of optimizer.stateDict().tensors.values()) t.dispose();
      }
      const report: HjbStepReport = { step, lr, losses };
      if (this.trackLoss) report.finalLoss = this.faceLoss(z0);
      return { z0: torch.noGrad(() => z0.detach().reshape(shape)), report };
    });
  }

  /** The face loss of a latent [F,C,h,w] or [1,F,C,h,w] without gradients. */
  faceLoss(latents: Tensor): number {
    return torch.noGrad(() => this.chunkedLoss(latents.reshape([-1, ...latents.shape.slice(-3)]), false));
  }

  /** The face loss of a latent [F,C,h,w] (or [1,F,C,h,w]) and its gradient (same shape, f32), with the optimisation's decoder setup. */
  lossAndGradient(latents: Tensor): { loss: number; grad: Tensor } {
    return torch.scope(() => {
      const z = torch.noGrad(() => latents.reshape([-1, ...latents.shape.slice(-3)]).to('f32').clone()).requiresGrad_();
      let loss = 0;
      this.withDecoderSetup(() => { loss = this.backwardFaceLoss(z); });
      const grad = torch.noGrad(() => (z.grad ?? torch.zerosLike(z)).reshape(latents.shape).clone());
      return { loss, grad };
    });
  }

  /** Loss and its gradient (accumulated into z0.grad), one chunk of frames at a time. */
  private backwardFaceLoss(z0: Tensor): number {
    return torch.enableGrad(() => this.chunkedLoss(z0, true));
  }

  private chunkedLoss(z: Tensor, backward: boolean): number {
    let total = 0;
    const chunks = (this.window.chunks ?? fixedChunks)(this.frameBoxes, this.decodeChunkSize);
    for (const [s, len] of chunks) {
      const boxes = this.frameBoxes.slice(s, s + len);
      total += torch.scope(() => {
        const latents = z.narrow(0, s, len).div(this.vae.scalingFactor).to(this.vaeDtype());
        const { images, boxes: inWindow } = this.window.decode(this.vae, latents, boxes);
        const faces = cropFaces(toArcFaceRange(images.to('f32')), inWindow, this.recognizer.config.input_size);
        if (!faces) return 0;
        const emb = this.recognizer.forward(faces.crops.to(this.recognizerDtype())).to('f32');
        const cos = torch.cosineSimilarity(emb, this.referenceEmbedding.expand([faces.count, -1]), 1, 1e-8);
        const loss = cos.neg().add(1).abs().sum([]).div(this.faceFrames);
        if (backward) loss.backward();
        return loss.item();
      });
    }
    return total;
  }

  /** Decoder checkpointing (when configured) while optimising; the previous setting is restored afterwards. */
  private withDecoderSetup(fn: () => void): void {
    const decoder = this.vae.decoder;
    const ckpt = decoder.gradientCheckpointing;
    decoder.gradientCheckpointing = this.checkpointing;
    try {
      fn();
    } finally {
      decoder.gradientCheckpointing = ckpt;
    }
  }

  private vaeDtype(): torch.DType {
    return this.vae.decoder.conv_in.weight.dtype;
  }

  private recognizerDtype(): torch.DType {
    return this.recognizer.conv1.weight.dtype;
  }

  dispose(): void {
    this.referenceEmbedding.dispose();
  }
}


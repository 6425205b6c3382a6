// Face identity embeddings and their cosine similarity (CSIM).
//   - ArcFace iResNet-100 (`glintr100.onnx`, antelopev2) on onnxruntime when the user supplies it: the
//     5-point aligned 112x112 crop, RGB, (x - 127.5) / 127.5, 512-d.
//   - The embedded default: FaceRes (HSE, shipped in @vladmandic/human) on our engine: an aligned crop
//     with more context, 224x224, RGB 0-255, 1024-d.

import * as torch from '../torch/index.ts';
import type { Image } from '../io/image.ts';
import { OnnxSession } from '../pose/dwpose/onnx-session.ts';
import { loadEmbeddedModel } from '../pose/embedded/models.ts';
import { alignFace, cropBox } from './align.ts';
import type { Face } from './detect.ts';

export interface FaceEmbedder {
  readonly name: string;
  readonly dim: number;
  /** Embeds one face of the image (aligned from its landmarks, else its box). */
  embedFace(image: Image, face: Face): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosineSimilarity: lengths ${a.length} and ${b.length} differ`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

export class ArcFaceEmbedder implements FaceEmbedder {
  readonly name = 'arcface';
  private constructor(private readonly session: OnnxSession, readonly dim: number) {}

  /** Opens an insightface ArcFace model (e.g. antelopev2's glintr100.onnx): input 1x3x112x112. */
  static async load(path: string): Promise<ArcFaceEmbedder> {
    const session = await OnnxSession.open(path);
    const shape = session.inputs[0]?.shape ?? [];
    if (shape.length !== 4 || (shape[2] > 0 && shape[2] !== 112) || (shape[3] > 0 && shape[3] !== 112)) {
      throw new Error(`${path}: expected an ArcFace model with a 1x3x112x112 input, found [${shape}]`);
    }
    const out = session.outputs[0]?.shape ?? [];
    return new ArcFaceEmbedder(session, out[out.length - 1] > 0 ? out[out.length - 1] : 512);
  }

  /** Embeds an aligned 112x112 RGB crop (HWC floats 0-255). */
  async embedCrop(crop: Float32Array): Promise<Float32Array> {
    const plane = 112 * 112;
    const data = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[c * plane + i] = (crop[3 * i + c] - 127.5) / 127.5;
    const [out] = await this.session.runSingle(data, [1, 3, 112, 112]);
    return Float32Array.from(out.data);
  }

  async embedFace(image: Image, face: Face): Promise<Float32Array> {
    return this.embedCrop(face.landmarks ? alignFace(image, face.landmarks, 112) : cropBox(image, face.box, 112));
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}

/** Context around the ArcFace template for FaceRes (its training crops are loose). */
export const FACERES_ZOOM = 0.8;
export const FACERES_INPUT = 224;

export class FaceResEmbedder implements FaceEmbedder {
  readonly name = 'faceres';
  readonly dim = 1024;

  /** `zoom`: scale of the ArcFace template inside the crop (smaller keeps more context). */
  constructor(readonly zoom = FACERES_ZOOM) {}

  async embedCrop(crop: Float32Array, size = FACERES_INPUT): Promise<Float32Array> {
    const graph = await loadEmbeddedModel('faceres');
    return torch.scope(() => {
      const [desc] = graph.execute({ input_1: torch.tensor(crop, { shape: [1, size, size, 3] }) }, ['global_pooling/Mean']);
      return desc.data<'f32'>();
    });
  }

  async embedFace(image: Image, face: Face): Promise<Float32Array> {
    if (face.landmarks) return this.embedCrop(alignFace(image, face.landmarks, FACERES_INPUT, this.zoom));
    // Without landmarks: the box with a margin, so the crop resembles the aligned one.
    const [x1, y1, x2, y2] = face.box;
    const cx = (x1 + x2) / 2;
    const cy = (y1 + y2) / 2;
    const half = (Math.max(x2 - x1, y2 - y1) / 2) * 1.3;
    return this.embedCrop(cropBox(image, [cx - half, cy - half, cx + half, cy + half], FACERES_INPUT));
  }

  async dispose(): Promise<void> {}
}

/** ArcFace when a model path is given, else the embedded FaceRes. */
export async function createFaceEmbedder(arcfacePath?: string): Promise<FaceEmbedder> {
  return arcfacePath ? ArcFaceEmbedder.load(arcfacePath) : new FaceResEmbedder();
}

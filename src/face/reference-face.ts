// The reference's identity: its largest face (the reference uses insightface's largest detection), aligned
// onto ArcFace's 112x112 template by five landmarks, embedded by glintr100 — the ONNX model of antelopev2
// when given (the reference's embedder), else the same network's PyTorch weights (glintr100_torch.pth) on
// our engine. The embedding is raw (not normalised), as the Face Encoder was trained with.
// The crop is fed as RGB, as the model was trained; the reference's inference script hands insightface an RGB
// image where it expects BGR (a channel swap we do not reproduce).
import * as torch from '../torch/index.ts';
import type { Image } from '../io/image.ts';
import { alignFace, cropBox, squareFaceBox } from './align.ts';
import { detectFaces, largestFace } from './detect.ts';
import { ArcFaceEmbedder } from './embed.ts';
import type { IResNet } from '../models/face/iresnet.ts';
import { clipBox, type PixelBox } from './face-boxes.ts';

export interface ReferenceFace {
  /** Raw ArcFace embedding (512 values for glintr100). */
  embedding: Float32Array;
  /** The face box in the reference image's pixels. */
  box: PixelBox;
  /** Which embedder produced it. */
  embedder: 'glintr100.onnx' | 'glintr100_torch';
}

export interface ReferenceFaceOptions {
  /** antelopev2's glintr100.onnx; preferred when given. */
  arcfaceOnnx?: string;
  /** The iResNet-100 (glintr100_torch.pth), used when no ONNX model is given. */
  recognizer?: IResNet;
}

/** The largest face's embedding and box, or undefined when no face is found. */
export async function referenceFace(image: Image, opts: ReferenceFaceOptions): Promise<ReferenceFace | undefined> {
  const face = largestFace(await detectFaces(image));
  if (!face) return undefined;
  const box = clipBox(face.box, image.width, image.height);
  if (!box) return undefined;
  // ArcFace (112 px) on the landmark-aligned face; a recognizer of another input size (the miniature's face-ID
  // net, 32 px) on the square box crop it was trained on
  const side = opts.arcfaceOnnx ? 112 : opts.recognizer?.config.input_size ?? 112;
  const crop = side !== 112 ? cropBox(image, squareFaceBox(face.box), side)
    : face.landmarks ? alignFace(image, face.landmarks, 112) : cropBox(image, face.box, 112);
  if (opts.arcfaceOnnx) {
    const embedder = await ArcFaceEmbedder.load(opts.arcfaceOnnx);
    try {
      return { embedding: await embedder.embedCrop(crop), box, embedder: 'glintr100.onnx' };
    } finally {
      await embedder.dispose();
    }
  }
  if (!opts.recognizer) throw new Error('referenceFace: needs glintr100.onnx or the glintr100_torch recognizer');
  const recognizer = opts.recognizer;
  const embedding = torch.noGrad(() => torch.scope(() => {
    const p = recognizer.parameters()[0]!;
    const x = torch.tensor(crop, { shape: [1, side, side, 3] }).permute([0, 3, 1, 2]).div(255).sub(0.5).div(0.5);
    return recognizer.eval().forward(x.to(p.dtype).to(p.device)).to('f32').to('cpu').data<'f32'>();
  }));
  return { embedding, box, embedder: 'glintr100_torch' };
}

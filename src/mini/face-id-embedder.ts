// Face embeddings for the miniature: the face-ID network (weights/faceid) on a square crop around the face
// box, the box taken from the dataset's face mask (the synthetic figures have no detector that finds their
// faces; their masks are exact). The crop is the one the network was trained on (squareFaceBox, cropBox).
import * as torch from '../torch/index.ts';
import type { Box } from '../pose/dwpose/yolox.ts';
import { cropBox, squareFaceBox } from '../face/align.ts';
import type { Image } from '../io/image.ts';
import type { IResNet } from '../models/face/iresnet.ts';
import type { LargestFaceEmbedding } from '../train/animator/validation.ts';

/** The bounding box of a 0/1 mask's ones; undefined when there are none, or when all are (no-face fallback masks). */
export function maskBox(mask: Uint8Array, width: number, height: number): Box | undefined {
  let x0 = width, y0 = height, x1 = -1, y1 = -1, count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      count++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (count === 0 || count === width * height) return undefined;
  return [x0, y0, x1 + 1, y1 + 1];
}

/** The raw embedding of the face in `box` of `image`: [num_features]. */
export function embedFace(net: IResNet, image: Image, box: Box): Float32Array {
  const side = net.config.input_size;
  const hwc = cropBox(image, squareFaceBox(box), side);
  return torch.noGrad(() => torch.scope(() => {
    const x = torch.tensor(hwc, { shape: [1, side, side, 3] }).permute([0, 3, 1, 2]).div(127.5).sub(1);
    return net.eval().forward(x).data<'f32'>();
  }));
}

/** A LargestFaceEmbedding that crops the hint's mask box; undefined without a usable mask. */
export function faceIdEmbedder(net: IResNet): LargestFaceEmbedding {
  return async (image, hint) => {
    const box = hint?.mask && maskBox(hint.mask, image.width, image.height);
    return box ? embedFace(net, image, box) : undefined;
  };
}

// Images to the pipeline's tensors, as the reference prepares them:
//   - the reference for the VAE: resized to W x H with Lanczos (diffusers' image_processor.preprocess, PIL
//     lanczos), then x/127.5 − 1; for CLIP: the image at its original size (the pipeline resizes it with
//     the antialiased bicubic of `clipPreprocess`);
//   - skeleton images: resized to W x H with bicubic (PIL resize) when they have another size, then x/127.5 − 1.
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import { resizeImage, toRgb, type Image } from '../io/image.ts';

/** An 8-bit RGB(A) image -> [1,3,H,W] f32 in [-1,1] (alpha dropped). */
export function imageToTensor(image: Image): Tensor {
  const { width, height, channels, data } = image;
  return torch.scope(() => {
    const hwc = torch.tensor(data, { shape: [height, width, channels] });
    return hwc.narrow(2, 0, 3).permute([2, 0, 1]).unsqueeze(0).to('f32').div(127.5).sub(1).contiguous();
  });
}

export interface ReferenceTensors {
  /** [1,3,H,W] at the output size (VAE path). */
  resized: Tensor;
  /** [1,3,h0,w0] at the original size (CLIP path). */
  original: Tensor;
}

export async function prepareReference(image: Image, width: number, height: number): Promise<ReferenceTensors> {
  const rgb = toRgb(image);
  const resized = rgb.width === width && rgb.height === height ? rgb : await resizeImage(rgb, width, height, { kernel: 'lanczos3' });
  return { resized: imageToTensor(resized), original: imageToTensor(rgb) };
}

/** Skeleton images -> [F,3,H,W] in [-1,1], resized with bicubic where needed. */
export async function posesToTensor(images: readonly Image[], width: number, height: number): Promise<Tensor> {
  if (images.length === 0) throw new Error('no pose images');
  const frames: Tensor[] = [];
  for (const image of images) {
    const rgb = toRgb(image);
    const sized = rgb.width === width && rgb.height === height ? rgb : await resizeImage(rgb, width, height, { kernel: 'cubic' });
    frames.push(imageToTensor(sized));
  }
  return torch.scope(() => torch.cat(frames, 0));
}

// The pose preview: the reference at the output size with the aligned driving skeleton drawn over it, for the
// first frames side by side, so a user sees where the poses land before the full run.
import type { Tensor } from '../torch/index.ts';
import { resizeImage, type Image } from '../io/image.ts';
import { encodePngSync } from '../io/png-sync.ts';
import { sideBySide } from '../io/side-by-side.ts';
import { framesToImages } from '../pipeline/outputs.ts';

/** Skeleton pixels (any channel above `threshold`: the skeletons are drawn on black) over the resized reference. */
export async function overlaySkeletons(reference: Image, skeletons: readonly Image[], threshold = 24): Promise<Image[]> {
  const { width, height } = skeletons[0]!;
  const base = await resizeImage(reference, width, height);
  return skeletons.map((s) => {
    const data = new Uint8Array(base.data);
    for (let p = 0; p < width * height; p++) {
      const [r, g, b] = [s.data[p * s.channels]!, s.data[p * s.channels + 1]!, s.data[p * s.channels + 2]!];
      if (Math.max(r, g, b) > threshold) data.set([r, g, b], p * 3);
    }
    return { width, height, channels: 3, data };
  });
}

/** The first `count` overlaid frames side by side in one image, labelled by frame. */
export async function posePreview(reference: Image, skeletons: readonly Image[], count = 4): Promise<Image> {
  const frames = await overlaySkeletons(reference, skeletons.slice(0, count));
  return sideBySide(frames.map((f, i) => ({ label: `frame ${i + 1}`, frames: [f] })), { height: Math.max(128, frames[0]!.height) })[0]!;
}

/**
 * A live frame ([3, H, W] in [0, 1]) as a PNG data URL, every k-th pixel so that its longer side is at most
 * `maxSide` (a few KB per step through the queue); synchronous, as it runs inside the denoising loop.
 */
export function liveFrameDataUrl(frame: Tensor, maxSide = 160): string {
  const full = framesToImages(frame.unsqueeze(0))[0]!;
  const k = Math.ceil(Math.max(full.width, full.height) / maxSide);
  const [width, height] = [Math.ceil(full.width / k), Math.ceil(full.height / k)];
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(full.data.subarray(((y * k) * full.width + x * k) * 3, ((y * k) * full.width + x * k) * 3 + 3), (y * width + x) * 3);
  }
  return `data:image/png;base64,${encodePngSync({ width, height, channels: 3, data }).toString('base64')}`;
}

// The pose preview: the reference at the output size with the aligned driving skeleton drawn over it, for the
// first frames side by side, so a user sees where the poses land before the full run.
import { resizeImage, type Image } from '../io/image.ts';
import { sideBySide } from '../io/side-by-side.ts';

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

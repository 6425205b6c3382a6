// Test frames from a real CC0 photo (scikit-image's camera, 256x256: a half-body person with a visible face),
// shipped in fixtures/ so tests need nothing outside the repository.
import type { Image } from '../../src/io/image.ts';

export const PHOTO = new URL('./fixtures/camera_cc0_256.png', import.meta.url).pathname;

/** A size x size crop of `photo` at (x0, y0) with deterministic noise of +-`noise` grey levels (seeded). */
export function cropPhoto(photo: Image, x0: number, y0: number, seed: number, size: number, noise: number): Image {
  const out = new Uint8Array(size * size * 3);
  let s = seed;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        s = (s * 1103515245 + 12345) >>> 0;
        const v = photo.data[((y + y0) * photo.width + x + x0) * 3 + c] + ((s >>> 16) % (2 * noise + 1)) - noise;
        out[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, v));
      }
    }
  }
  return { width: size, height: size, channels: 3, data: out };
}

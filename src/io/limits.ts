// Caps checked before any heavy allocation, so a hostile or mistaken input is refused in milliseconds with a
// message naming the file, the limit and what was found, instead of costing gigabytes first (issue 18): a
// 746 KB PNG of 16000x16000 decodes to 768 MB of RGB, a keypoint file's "size": [1e9, 1e9] asks the renderer
// for exabytes. Each cap can be raised by its environment variable where a larger input is a legitimate need.

function envLimit(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, found '${raw}'`);
  return v;
}

export const LIMITS = {
  /** Pixels of one decoded image (64 MP: 192 MB of RGB). */
  imagePixels: envLimit('STABLE_ANIMATOR_MAX_PIXELS', 8192 * 8192),
  /** Either side of a frame size (keypoint files' "size", --size, rendered skeletons). */
  frameSide: envLimit('STABLE_ANIMATOR_MAX_SIDE', 8192),
  /** A checkpoint's pickle (data.pkl: names, shapes, no tensor data) uncompressed, real ones under 1 MB; also a .npy object array's pickle. */
  pickleBytes: envLimit('STABLE_ANIMATOR_MAX_PICKLE_BYTES', 64 * 1024 * 1024),
  /** The reference photo's shorter side, below which no face or pose can be found. */
  minReferenceSide: 32,
};

export class LimitError extends Error {}

/** `what` (a file and field) of width x height pixels: within the pixel cap. */
export function checkImagePixels(what: string, width: number, height: number): void {
  if (width * height > LIMITS.imagePixels) {
    throw new LimitError(`${what}: ${width}x${height} is ${(width * height / 1e6).toFixed(1)} megapixels, above the limit of ` +
      `${(LIMITS.imagePixels / 1e6).toFixed(1)} (set STABLE_ANIMATOR_MAX_PIXELS to raise it)`);
  }
}

/** `what` of width x height: each side within the frame-side cap. */
export function checkFrameSides(what: string, width: number, height: number): void {
  if (width > LIMITS.frameSide || height > LIMITS.frameSide) {
    throw new LimitError(`${what}: ${width}x${height} exceeds the limit of ${LIMITS.frameSide} pixels a side (set STABLE_ANIMATOR_MAX_SIDE to raise it)`);
  }
}

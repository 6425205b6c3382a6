// Long videos as overlapping windows (MimicMotion/StableAnimator): every window holds the anchor
// frame 0 plus consecutive frames; noise predictions are blended with triangular weights.

export interface Window {
  /** Frame indices of this window: [0, start, start+1, ...] (frame 0 is the anchor). */
  frames: number[];
  /** Blend weight of each position in the window. */
  weights: number[];
}

/** The reference's triangular weights: w_k = min((k+0.5)·2/T, 2−(k+0.5)·2/T). */
export function triangularWeights(size: number): number[] {
  return Array.from({ length: size }, (_, k) => Math.min(((k + 0.5) * 2) / size, 2 - ((k + 0.5) * 2) / size));
}

/**
 * Windows of `size` frames overlapping by `overlap` over `numFrames` frames, as the reference makes
 * them. Unlike the reference (IndexError), a video shorter than a window is one window of all frames.
 */
export function slidingWindows(numFrames: number, size: number, overlap: number): Window[] {
  if (!Number.isInteger(numFrames) || numFrames < 1) throw new RangeError(`slidingWindows: numFrames must be a positive integer, got ${numFrames}`);
  if (!Number.isInteger(size) || size < 2) throw new RangeError(`slidingWindows: window size must be an integer >= 2, got ${size}`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= size) throw new RangeError(`slidingWindows: overlap must be in [0, ${size - 1}], got ${overlap}`);
  if (numFrames <= size) {
    return [{ frames: Array.from({ length: numFrames }, (_, i) => i), weights: triangularWeights(numFrames) }];
  }
  const windows: number[][] = [];
  for (let i = 0; i <= numFrames - size; i += size - overlap) {
    const frames = [0];
    for (let f = i + 1; f < Math.min(i + size, numFrames); f++) frames.push(f);
    windows.push(frames);
  }
  if (windows[windows.length - 1].at(-1)! < numFrames - 1) {
    const frames = [0];
    for (let f = numFrames - size + 1; f < numFrames; f++) frames.push(f);
    windows.push(frames);
  }
  const weights = triangularWeights(size);
  return windows.map((frames) => ({ frames, weights }));
}

/** Per-frame sum of the blend weights over all windows (the normaliser of the blended prediction). */
export function weightSums(numFrames: number, windows: Window[]): number[] {
  const sums = new Array<number>(numFrames).fill(0);
  for (const w of windows) w.frames.forEach((f, k) => (sums[f] += w.weights[k]));
  return sums;
}

// Which source frames a driving input is sampled at, and the rate the result plays at, so the animation lasts as
// long as its source (within one output frame). The rule, for a source of N frames at S fps:
//   - a rate R (at most S): frames round(k·S/R) for k = 0, 1, ... while below N, played at R fps;
//   - a stride n: frames 0, n, 2n, ..., played at S/n fps;
//   - a source without a known rate (skeleton folders, keypoint files without fps): every n-th frame, played
//     at R (the frames are taken to be at the output rate already).
// MimicMotion samples `stride·max(1, int(fps/24))` (reference-implementation.md); a rate is the same idea
// without its jump from 1x to 2x at 48 fps.

export interface FrameSamplingRequest {
  /** The rate to sample at and play at. */
  fps?: number;
  /** Every n-th source frame (instead of `fps`; with it for a source without a rate: what the frames play at). */
  stride?: number;
}

export interface FrameSampling {
  /** Source frame indices, ascending. */
  indices: number[];
  /** The rate the sampled frames play at. */
  fps: number;
  /** The source's rate, when known. */
  sourceFps?: number;
  sourceFrames: number;
  /** Says how the rate was chosen (printed by the CLI). */
  description: string;
}

/**
 * Samples `sourceFrames` frames at `sourceFps` (undefined: unknown) by `request`; `defaultFps` is the rate used
 * when neither a rate nor a stride is asked for (the weights' training rate); `maxFrames` keeps the first ones.
 */
export function sampleFrames(sourceFrames: number, sourceFps: number | undefined, request: FrameSamplingRequest, defaultFps: number, maxFrames?: number): FrameSampling {
  if (request.fps !== undefined && !(request.fps > 0 && Number.isFinite(request.fps))) throw new Error(`--fps must be a positive number, got ${request.fps}`);
  if (request.stride !== undefined && !(Number.isInteger(request.stride) && request.stride >= 1)) throw new Error(`--stride must be a positive integer, got ${request.stride}`);
  const known = sourceFps !== undefined && sourceFps > 0 && Number.isFinite(sourceFps);
  // without a source rate, --fps says what a stride plays at
  if (known && request.fps !== undefined && request.stride !== undefined) {
    throw new Error(`give a frame rate (--fps) or a stride (--stride), not both: the source plays at ${fmt(sourceFps)} fps, a stride at that / N`);
  }
  let step: number;
  let fps: number;
  let description: string;
  if (request.stride !== undefined) {
    step = request.stride;
    fps = known ? sourceFps / step : request.fps ?? defaultFps;
    description = known ? `every ${ordinal(step)}frame of ${fmt(sourceFps)} fps: ${fmt(fps)} fps` : `every ${ordinal(step)}frame, played at ${fmt(fps)} fps (the source has no frame rate)`;
  } else if (!known) {
    step = 1;
    fps = request.fps ?? defaultFps;
    description = `every frame, played at ${fmt(fps)} fps (the source has no frame rate)`;
  } else {
    const wanted = request.fps ?? defaultFps;
    fps = Math.min(wanted, sourceFps);
    step = sourceFps / fps;
    const why = request.fps !== undefined ? '' : " (the weights' training rate)";
    description = wanted > sourceFps
      ? `every frame at the source's ${fmt(sourceFps)} fps (below the ${fmt(wanted)} fps asked for)`
      : `${fmt(fps)} fps${why} from ${fmt(sourceFps)} fps`;
  }
  const indices: number[] = [];
  for (let k = 0; ; k++) {
    const i = Math.round(k * step);
    if (i >= sourceFrames || (maxFrames !== undefined && indices.length >= maxFrames)) break;
    indices.push(i);
  }
  return { indices, fps, ...(known ? { sourceFps } : {}), sourceFrames, description };
}

/** The elements of `items` at the sampled indices. */
export function pickFrames<T>(items: readonly T[], sampling: Pick<FrameSampling, 'indices'>): T[] {
  return sampling.indices.map((i) => items[i]!);
}

const fmt = (v: number): string => String(Math.round(v * 1000) / 1000);
/** '' for 1, else '2nd ', '3rd ', '4th ', '21st ' ... */
function ordinal(n: number): string {
  if (n === 1) return '';
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${suffix} `;
}

// Seeds derived from (run seed, step, sample, ...): every random draw of a training step is a pure function
// of the run's seed and its position, so a resumed run redraws exactly what an uninterrupted one would have,
// with no generator state to save.
import { createRng, type Rng } from './rng.ts';

/** Mixes integers into one 32-bit seed; mixSeed(seed, step) is the alignment trainer's historic formula. */
export function mixSeed(first: number, ...rest: number[]): number {
  let h = first >>> 0;
  for (const v of rest) h = (Math.imul(h + 1, 0x85ebca6b) ^ Math.imul(v + 1, 0x9e3779b1)) >>> 0;
  return h;
}

/** A JS generator for (seed, ...position). */
export function positionRng(seed: number, ...position: number[]): Rng {
  return createRng(mixSeed(seed, ...position));
}

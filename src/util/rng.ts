// A small seeded random number generator (SplitMix32 state update + a 32-bit output mix), passed explicitly
// wherever randomness is needed: no global RNG.

export interface Rng {
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Integer uniform in [0, n). */
  int(n: number): number;
  /** exp(uniform(log lo, log hi)): equal odds of halving and doubling when lo = 1/hi. */
  logUniform(lo: number, hi: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** A new generator seeded from this one, for an independent stream. */
  fork(): Rng;
  /** Fisher-Yates shuffle of a copy. */
  shuffle<T>(items: readonly T[]): T[];
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const nextU32 = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const rng: Rng = {
    next: () => nextU32() / 4294967296,
    uniform: (lo, hi) => lo + (hi - lo) * rng.next(),
    int: (n) => {
      if (!(n > 0) || !Number.isInteger(n)) throw new Error(`rng.int: n must be a positive integer, got ${n}`);
      return Math.floor(rng.next() * n);
    },
    logUniform: (lo, hi) => {
      if (!(lo > 0 && hi >= lo)) throw new Error(`rng.logUniform: need 0 < lo <= hi, got [${lo}, ${hi}]`);
      return Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
    },
    normal: () => {
      const u = 1 - rng.next(); // (0, 1]
      const v = rng.next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    fork: () => createRng(nextU32()),
    shuffle: <T>(items: readonly T[]): T[] => {
      const out = items.slice();
      for (let i = out.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
  };
  return rng;
}

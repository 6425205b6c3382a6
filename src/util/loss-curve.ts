// Shared by the trainers: the running mean that smooths a noisy per-step loss for its plot.

/** Mean of the last `window` values at each index (fewer at the start). */
export function smooth(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  values.forEach((v, i) => {
    sum += v;
    if (i >= window) sum -= values[i - window]!;
    out.push(sum / Math.min(i + 1, window));
  });
  return out;
}

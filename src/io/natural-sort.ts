// Natural ordering of file names, so that frame_2.png comes before frame_10.png.

const RUNS = /(\d+)|(\D+)/g;

/** Compares names run by run: digit runs by numeric value, other runs by code point. */
export function compareNatural(a: string, b: string): number {
  const ra = a.match(RUNS) ?? [];
  const rb = b.match(RUNS) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i];
    const y = rb[i];
    if (x === y) continue;
    const xDigits = x.charCodeAt(0) <= 57 && x.charCodeAt(0) >= 48;
    const yDigits = y.charCodeAt(0) <= 57 && y.charCodeAt(0) >= 48;
    if (xDigits && yDigits) {
      // Compare without leading zeros by length, then lexically: exact for any number of digits.
      const xs = x.replace(/^0+(?=\d)/, '');
      const ys = y.replace(/^0+(?=\d)/, '');
      if (xs.length !== ys.length) return xs.length - ys.length;
      if (xs !== ys) return xs < ys ? -1 : 1;
      // Same value: fewer leading zeros first, so the order stays total.
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  if (ra.length !== rb.length) return ra.length - rb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortNatural(names: readonly string[]): string[] {
  return [...names].sort(compareNatural);
}

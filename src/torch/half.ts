// 16-bit float decoding on the host, for reading checkpoint values without the engine
// (tests, inspection tools). IEEE binary16 ('f16') and bfloat16 ('bf16', the top half of an f32).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The value of an IEEE half-precision bit pattern (subnormals, infinities and NaN included). */
export function f16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** The value of a bfloat16 bit pattern: exactly the f32 whose upper 16 bits these are. */
export function bf16ToNumber(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

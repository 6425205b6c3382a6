// Element types, named as in PyTorch (float32 = 'f32', ...). The codes match c10::ScalarType.

export type DType = 'u8' | 'i8' | 'i16' | 'i32' | 'i64' | 'f16' | 'f32' | 'f64' | 'bool' | 'bf16';

export const SCALAR_TYPE: Record<DType, number> = {
  u8: 0, i8: 1, i16: 2, i32: 3, i64: 4, f16: 5, f32: 6, f64: 7, bool: 11, bf16: 15,
};

export const DTYPE_OF_SCALAR_TYPE: Record<number, DType> = Object.fromEntries(
  Object.entries(SCALAR_TYPE).map(([k, v]) => [v, k as DType]),
) as Record<number, DType>;

export const ITEM_SIZE: Record<DType, number> = {
  u8: 1, i8: 1, i16: 2, i32: 4, i64: 8, f16: 2, f32: 4, f64: 8, bool: 1, bf16: 2,
};

export function isFloating(d: DType): boolean {
  return d === 'f16' || d === 'f32' || d === 'f64' || d === 'bf16';
}

/** A tensor's bytes outside the engine: contiguous, row-major, little-endian. */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: Uint8Array;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// A strided view of a storage (offset, sizes, strides in elements, as torch keeps them) turned into
// contiguous row-major bytes: a transposed weight comes out in its logical order.

export interface StridedView {
  offset: number;
  shape: readonly number[];
  stride: readonly number[];
}

/** The number of elements; 0 whenever a dimension is 0, however large the others (no NaN from overflow). */
export function elementCount(shape: readonly number[]): number {
  return shape.includes(0) ? 0 : shape.reduce((a, b) => a * b, 1);
}

/** True when the view's elements are already laid out row-major with no gaps. */
export function isContiguous({ shape, stride }: StridedView): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/** The view's bytes, contiguous. Contiguous views are returned as a window on `storage`, not copied. */
export function contiguousBytes(storage: Uint8Array, itemSize: number, view: StridedView): Uint8Array {
  const { offset, shape, stride } = view;
  const count = elementCount(shape);
  if (isContiguous(view)) return storage.subarray(offset * itemSize, (offset + count) * itemSize);
  const out = new Uint8Array(count * itemSize);
  const index = new Array<number>(shape.length).fill(0);
  let source = offset;
  for (let o = 0; o < out.length; o += itemSize) {
    const s = source * itemSize;
    for (let b = 0; b < itemSize; b++) out[o + b] = storage[s + b];
    // Advance the multi-index like an odometer, moving the storage position by each dimension's stride.
    for (let d = shape.length - 1; d >= 0; d--) {
      source += stride[d];
      if (++index[d] < shape[d]) break;
      source -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

// NumPy's scalar types as .npy headers ('<f8', '|O') and pickled dtypes ('f8' plus a byte-order state) name
// them, and the decoding of their bytes into JS values (numpy.lib.format; NEP 1). Only what keypoint files
// use is supported: bool, (u)int 8-64, float 16-64, and object (whose items are pickled, not stored raw).

import { f16ToNumber } from '../torch/half.ts';

export interface NumpyDtype {
  kind: 'b' | 'i' | 'u' | 'f' | 'O';
  /** Bytes per item (0 for object arrays, whose items are Python objects). */
  itemSize: number;
  littleEndian: boolean;
  /** NumPy's name: float64, int32, bool, object. */
  name: string;
}

const SIZES: Record<string, readonly number[]> = { b: [1], i: [1, 2, 4, 8], u: [1, 2, 4, 8], f: [2, 4, 8] };
const NAMES: Record<string, string> = { b: 'bool', i: 'int', u: 'uint', f: 'float' };

/**
 * A dtype from its type string: an optional byte order ('<' little, '>' big, '|' not applicable, '=' native),
 * a kind and an item size ('<f8', '|b1', 'O8', '?'). Throws naming the string for anything else
 * (strings, structured or datetime dtypes).
 */
export function parseDtype(descr: string): NumpyDtype {
  const m = /^([<>|=]?)([biufO?])(\d*)$/.exec(descr);
  const kind = m ? (m[2] === '?' ? 'b' : m[2]) : '';
  if (m && kind === 'O') return { kind: 'O', itemSize: 0, littleEndian: true, name: 'object' };
  const size = m ? (m[3] === '' && kind === 'b' ? 1 : Number(m[3])) : 0;
  if (!m || !SIZES[kind]?.includes(size)) {
    throw new Error(`unsupported dtype '${descr}' (supported: bool, int8-64, uint8-64, float16-64, object)`);
  }
  return withByteOrder({ kind: kind as NumpyDtype['kind'], itemSize: size, littleEndian: true, name: kind === 'b' ? 'bool' : `${NAMES[kind]}${8 * size}` }, m[1]);
}

/** The dtype with byte order `order` ('<', '>', '|', '=' or '' for native; every supported host is little-endian). */
export function withByteOrder(dtype: NumpyDtype, order: string): NumpyDtype {
  if (order !== '<' && order !== '>' && order !== '|' && order !== '=' && order !== '') {
    throw new Error(`unknown byte order '${order}' for dtype ${dtype.name}`);
  }
  return { ...dtype, littleEndian: order !== '>' };
}

/** `count` items of `dtype` from `bytes` (exactly count * itemSize long); int64 beyond 2^53 comes out as bigint. */
export function decodeItems(dtype: NumpyDtype, bytes: Uint8Array, count: number): (number | bigint | boolean)[] {
  if (dtype.kind === 'O') throw new Error('object items are pickled, not stored as raw bytes');
  if (bytes.length !== count * dtype.itemSize) {
    throw new Error(`expected ${count} item(s) of ${dtype.name} (${count * dtype.itemSize} bytes), found ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = dtype.littleEndian;
  const read = readerFor(dtype);
  return Array.from({ length: count }, (_, i) => read(view, i * dtype.itemSize, le));
}

type ItemReader = (view: DataView, at: number, le: boolean) => number | bigint | boolean;

function readerFor({ kind, itemSize }: NumpyDtype): ItemReader {
  if (kind === 'b') return (v, at) => v.getUint8(at) !== 0;
  if (kind === 'f') {
    if (itemSize === 2) return (v, at, le) => f16ToNumber(v.getUint16(at, le));
    return itemSize === 4 ? (v, at, le) => v.getFloat32(at, le) : (v, at, le) => v.getFloat64(at, le);
  }
  if (itemSize === 8) {
    return kind === 'i' ? (v, at, le) => safeNumber(v.getBigInt64(at, le)) : (v, at, le) => safeNumber(v.getBigUint64(at, le));
  }
  const signed = kind === 'i';
  if (itemSize === 1) return signed ? (v, at) => v.getInt8(at) : (v, at) => v.getUint8(at);
  if (itemSize === 2) return signed ? (v, at, le) => v.getInt16(at, le) : (v, at, le) => v.getUint16(at, le);
  return signed ? (v, at, le) => v.getInt32(at, le) : (v, at, le) => v.getUint32(at, le);
}

function safeNumber(v: bigint): number | bigint {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

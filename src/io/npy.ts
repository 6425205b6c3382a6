// NumPy's .npy files (numpy.lib.format, NEP 1): the magic "\x93NUMPY", a version, a header dict
// {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), } and then the data: raw items, or, for
// dtype=object (what np.save writes for a list of dicts, e.g. DWPose keypoints), a pickle of the whole
// array. The pickle is read only through the restricted unpickler with NumPy's array globals allowed
// (numpy-pickle.ts): a file naming any other global is refused and nothing from it runs.

import { readFile } from 'node:fs/promises';
import { ByteReader } from '../torch/serialization/byte-reader.ts';
import { pyTypeName, unpickle } from '../torch/serialization/pickle.ts';
import { bytesSource } from '../torch/serialization/random-access-file.ts';
import { elementCount } from '../torch/serialization/strided.ts';
import { LIMITS } from './limits.ts';
import { decodeItems, parseDtype } from './numpy-dtype.ts';
import { PickledArray, nest, resolveNumpyGlobal, toPlain } from './numpy-pickle.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export interface NpyArray {
  shape: number[];
  /** NumPy's dtype name: float64, int32, bool, object. */
  dtype: string;
  /** The array as `ndarray.tolist()` gives it: nested lists, numbers, and for object arrays plain objects. */
  value: unknown;
}

export function isNpyPath(path: string): boolean {
  return path.toLowerCase().endsWith('.npy');
}

export async function readNpy(path: string): Promise<NpyArray> {
  return parseNpy(await readFile(path), path);
}

/** Parses a .npy file's bytes; every error names `file`. */
export function parseNpy(bytes: Uint8Array, file = '<npy>'): NpyArray {
  try {
    return parse(bytes);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

function parse(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error(`not a .npy file: expected the magic \\x93NUMPY, found ${JSON.stringify(String.fromCharCode(...bytes.subarray(0, 6)))}`);
  }
  const major = bytes[6];
  if (major < 1 || major > 3) throw new Error(`unsupported .npy version ${major}.${bytes[7]} (1.0 to 3.0 are known)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) throw new Error(`the header says ${headerLength} bytes, but the file has ${bytes.length - 8 - lengthBytes} after the length`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lengthBytes, dataStart));
  const { descr, fortranOrder, shape } = parseHeader(header);
  const dtype = parseDtype(descr);
  const data = bytes.subarray(dataStart);
  if (dtype.kind !== 'O') {
    return { shape, dtype: dtype.name, value: nest(decodeItems(dtype, data, elementCount(shape)), shape, fortranOrder) };
  }
  if (data.length > LIMITS.pickleBytes) {
    throw new Error(`the object array's pickle is ${data.length} bytes, above the limit of ${LIMITS.pickleBytes} (set STABLE_ANIMATOR_MAX_PICKLE_BYTES to raise it)`);
  }
  const array = unpickle(new ByteReader(bytesSource(data)), { resolveGlobal: resolveNumpyGlobal });
  if (!(array instanceof PickledArray)) throw new Error(`the object array's pickle holds a ${pyTypeName(array)}, expected a numpy.ndarray`);
  if (array.shape.join() !== shape.join()) {
    throw new Error(`the header gives shape (${shape.join(', ')}), the pickled array has (${array.shape.join(', ')})`);
  }
  return { shape, dtype: 'object', value: toPlain(array) };
}

/** The three keys of the header, a Python dict literal; anything else there is refused. */
function parseHeader(header: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shape = /['"]shape['"]\s*:\s*\(([\d\s,]*)\)/.exec(header);
  if (!descr || !fortran || !shape) {
    throw new Error(`malformed header: expected 'descr' (a type string; structured dtypes are not supported), 'fortran_order' and 'shape', found ${JSON.stringify(header.trim().slice(0, 200))}`);
  }
  const dims = shape[1].split(',').map((d) => d.trim()).filter((d) => d !== '').map(Number);
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims };
}

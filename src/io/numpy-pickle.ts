// The Python globals a pickled NumPy array may name, and what they stand for here: exactly what
// `ndarray.__reduce__` and `dtype.__reduce__` write (numpy/_core/src/multiarray/methods.c: array_reduce,
// array_setstate; descriptor.c: arraydescr_reduce, arraydescr_setstate), under NumPy 1.x's module name
// (numpy.core) and 2.x's (numpy._core). Every other global is refused before anything is applied, so a
// hostile file (one naming os.system or builtins.eval) stops the load and runs nothing.

import { PickleCallable, PickleObject, pyTypeName } from '../torch/serialization/pickle.ts';
import { elementCount } from '../torch/serialization/strided.ts';
import { decodeItems, parseDtype, withByteOrder, type NumpyDtype } from './numpy-dtype.ts';

/** `numpy.dtype(obj, align, copy)`, then BUILD with (version, byte order, subarray, names, fields, ...). */
class PickledDtype extends PickleObject {
  readonly pythonType = 'numpy.dtype';
  constructor(public dtype: NumpyDtype) {
    super();
  }

  setState(state: unknown): void {
    if (!Array.isArray(state) || state.length < 8 || (state[0] !== 3 && state[0] !== 4)) {
      throw new Error(`numpy.dtype state: expected a version 3 or 4 tuple, found ${pyTypeName(state)}`);
    }
    if (state[2] !== null || state[3] !== null || state[4] !== null) {
      throw new Error(`numpy.dtype ${this.dtype.name}: subarray and structured dtypes are not supported`);
    }
    if (typeof state[1] !== 'string') throw new Error(`numpy.dtype state: the byte order must be a str, found ${pyTypeName(state[1])}`);
    this.dtype = withByteOrder(this.dtype, state[1]);
  }
}

/** `_reconstruct(ndarray, (0,), b'b')` makes an empty array; BUILD with (version, shape, dtype, fortran, data) fills it. */
export class PickledArray extends PickleObject {
  readonly pythonType = 'numpy.ndarray';
  shape: number[] = [0];
  fortranOrder = false;
  /** The items in memory order (C or Fortran, per `fortranOrder`). */
  items: unknown[] = [];

  setState(state: unknown): void {
    if (!Array.isArray(state) || (state.length !== 5 && state.length !== 4)) {
      throw new Error(`numpy.ndarray state: expected (version, shape, dtype, is_fortran, data), found ${pyTypeName(state)}`);
    }
    const [shape, dtype, fortran, data] = state.length === 5 ? state.slice(1) : state;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`numpy.ndarray state: the shape must be a tuple of non-negative ints, found ${pyTypeName(shape)}`);
    }
    if (!(dtype instanceof PickledDtype)) throw new Error(`numpy.ndarray state: expected a dtype, found ${pyTypeName(dtype)}`);
    if (typeof fortran !== 'boolean') throw new Error(`numpy.ndarray state: is_fortran must be a bool, found ${pyTypeName(fortran)}`);
    const count = elementCount(shape);
    if (dtype.dtype.kind === 'O') {
      if (!Array.isArray(data) || data.length !== count) {
        throw new Error(`numpy.ndarray state: an object array of shape (${shape.join(', ')}) needs a list of ${count} item(s), found ${pyTypeName(data)}${Array.isArray(data) ? ` of ${data.length}` : ''}`);
      }
      this.items = [...data];
    } else {
      if (!(data instanceof Uint8Array)) throw new Error(`numpy.ndarray state: expected the ${dtype.dtype.name} data as bytes, found ${pyTypeName(data)}`);
      this.items = decodeItems(dtype.dtype, data, count);
    }
    this.shape = [...shape];
    this.fortranOrder = fortran;
  }
}

const NDARRAY = Symbol('numpy.ndarray');

function reconstruct(args: readonly unknown[]): PickledArray {
  if (args[0] !== NDARRAY) throw new Error(`_reconstruct: expected numpy.ndarray as the array type, found ${pyTypeName(args[0])}`);
  return new PickledArray();
}

function makeDtype(args: readonly unknown[]): PickledDtype {
  if (typeof args[0] !== 'string') throw new Error(`numpy.dtype: expected a type string, found ${pyTypeName(args[0])}`);
  return new PickledDtype(parseDtype(args[0]));
}

// numpy.core.multiarray.scalar(dtype, bytes): one numpy scalar (np.float32(0.5) inside a list or dict).
function scalar(args: readonly unknown[]): unknown {
  const [dtype, data] = args;
  if (!(dtype instanceof PickledDtype)) throw new Error(`numpy scalar: expected a dtype, found ${pyTypeName(dtype)}`);
  if (dtype.dtype.kind === 'O') return data;
  if (!(data instanceof Uint8Array)) throw new Error(`numpy scalar: expected its bytes, found ${pyTypeName(data)}`);
  return decodeItems(dtype.dtype, data, 1)[0];
}

const ALLOWED = new Map<string, unknown>([
  ['numpy.ndarray', NDARRAY],
  ['numpy.dtype', new PickleCallable('numpy.dtype', makeDtype)],
  ...['numpy.core.multiarray', 'numpy._core.multiarray'].flatMap((module): [string, unknown][] => [
    [`${module}._reconstruct`, new PickleCallable(`${module}._reconstruct`, reconstruct)],
    [`${module}.scalar`, new PickleCallable(`${module}.scalar`, scalar)],
  ]),
]);

/** The stand-in for an allowed global; throws, naming it, for any other. */
export function resolveNumpyGlobal(module: string, name: string): unknown {
  const qualified = `${module}.${name}`;
  if (!ALLOWED.has(qualified)) {
    throw new Error(`refusing to load: the pickle references the global '${qualified}', which is not on the allow-list of NumPy array globals (${[...ALLOWED.keys()].join(', ')}); nothing was run`);
  }
  return ALLOWED.get(qualified);
}

const MAX_DEPTH = 100;
const MAX_DIMS = 64;
const MAX_EMPTY_LISTS = 1 << 16;

/**
 * The unpickled value as plain JS data, as `ndarray.tolist()` gives it in Python: arrays become nested lists
 * (a 0-d array its one item), tuples lists, dicts objects (keys must be str or int), numbers stay numbers.
 * An object the pickle shares (its memo) is converted once; one that contains itself is refused.
 */
export function toPlain(root: unknown): unknown {
  const done = new Map<object, unknown>();
  const open = new Set<object>();
  const visit = (value: unknown, depth: number): unknown => {
    if (typeof value === 'symbol') throw new Error('unexpected numpy.ndarray (the type itself) in the data');
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
    if (done.has(value)) return done.get(value);
    if (open.has(value)) throw new Error(`the data contains itself (a ${pyTypeName(value)} inside itself)`);
    if (depth > MAX_DEPTH) throw new Error(`the data is nested deeper than ${MAX_DEPTH} levels`);
    open.add(value);
    const out = convert(value, (v) => visit(v, depth + 1));
    open.delete(value);
    done.set(value, out);
    return out;
  };
  return visit(root, 0);
}

function convert(value: object, visit: (v: unknown) => unknown): unknown {
  if (value instanceof PickledArray) return nest(value.items.map(visit), value.shape, value.fortranOrder);
  if (Array.isArray(value)) return value.map(visit);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) {
      if (typeof k !== 'string' && typeof k !== 'number') throw new Error(`dict keys must be str or int, found ${pyTypeName(k)}`);
      // defineProperty: a key such as "__proto__" stays a plain key
      Object.defineProperty(out, String(k), { value: visit(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  throw new Error(`unexpected ${pyTypeName(value)} in the data`);
}

/** Flat items in C or Fortran order -> nested lists of `shape`. */
export function nest(items: readonly unknown[], shape: readonly number[], fortranOrder: boolean): unknown {
  if (shape.length > MAX_DIMS) throw new Error(`${shape.length} dimensions, above NumPy's ${MAX_DIMS}`);
  if (shape.length === 0) return items[0];
  // A 0 in the shape makes an array without items that could still ask for millions of empty lists.
  let lists = 1;
  for (const n of shape.slice(0, -1)) {
    lists *= n;
    if (lists > Math.max(items.length, MAX_EMPTY_LISTS)) throw new Error(`shape (${shape.join(', ')}) asks for ${lists} lists for ${items.length} item(s)`);
  }
  const strides = shape.map((_, d) => (fortranOrder ? shape.slice(0, d) : shape.slice(d + 1)).reduce((a, b) => a * b, 1));
  const build = (d: number, offset: number): unknown[] =>
    Array.from({ length: shape[d] }, (_, i) => (d === shape.length - 1 ? items[offset + i * strides[d]] : build(d + 1, offset + i * strides[d])));
  return build(0, 0);
}

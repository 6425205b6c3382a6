// The Python globals a torch.save state dict may name, and what they stand for here. Tensors are not
// built while unpickling: _rebuild_tensor_v2 returns a TensorRef (storage, offset, size, stride) that the
// loader materializes once it knows where each storage's bytes are. Every other global is refused.

import type { DType } from '../dtype.ts';
import { PickleCallable, pyTypeName } from './pickle.ts';

/** A storage named by a persistent id: its bytes live in the checkpoint under `key`. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
  ) {}
}

/** A tensor as torch pickles it: a strided view of a storage, all counts in elements. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** A typed storage class such as torch.FloatStorage; appears only inside persistent ids. */
class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: DType,
  ) {}
}

const STORAGE_DTYPES: Record<string, DType> = {
  DoubleStorage: 'f64', FloatStorage: 'f32', HalfStorage: 'f16', BFloat16Storage: 'bf16', LongStorage: 'i64',
  IntStorage: 'i32', ShortStorage: 'i16', CharStorage: 'i8', ByteStorage: 'u8', BoolStorage: 'bool',
};

const ALLOWED = new Map<string, unknown>([
  ['collections.OrderedDict', new PickleCallable('collections.OrderedDict', (args) => {
    if (args.length > 0) throw new Error(`collections.OrderedDict: expected no arguments, got ${args.length}`);
    return new Map();
  })],
  ['torch._utils._rebuild_tensor_v2', new PickleCallable('torch._utils._rebuild_tensor_v2', rebuildTensor)],
  ['torch._utils._rebuild_parameter', new PickleCallable('torch._utils._rebuild_parameter', ([data]) => {
    if (!(data instanceof TensorRef)) throw new Error(`torch._utils._rebuild_parameter: expected a tensor, got ${pyTypeName(data)}`);
    return data;
  })],
  ['torch.Size', new PickleCallable('torch.Size', ([sizes]) => indices(sizes, 'torch.Size'))],
  ...Object.entries(STORAGE_DTYPES).map(([name, dtype]): [string, unknown] => [`torch.${name}`, new StorageType(`torch.${name}`, dtype)]),
]);

/** The stand-in for an allowed global; throws, naming it, for any other. */
export function resolveTorchGlobal(module: string, name: string): unknown {
  const qualified = `${module}.${name}`;
  if (!ALLOWED.has(qualified)) {
    throw new Error(`refusing to load: pickle references global '${qualified}', which is not on the allow-list of tensor-rebuild globals`);
  }
  return ALLOWED.get(qualified);
}

/**
 * A storage from torch's persistent id ('storage', StorageType, key, location, numel), the form both the
 * zip and the legacy format use (the legacy one adds a sixth field, view metadata, always None since 1.0).
 * The location ('cpu', 'cuda:0') is ignored: everything loads to host memory.
 */
export function storageFromPersistentId(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || (pid.length !== 5 && pid.length !== 6)) {
    throw new Error(`unsupported persistent id: expected ('storage', type, key, location, numel), found a ${pyTypeName(pid)}${Array.isArray(pid) ? ` of ${pid.length} items` : ''}`);
  }
  const [, type, key, , numel, viewMetadata] = pid as unknown[];
  if (!(type instanceof StorageType)) throw new Error(`persistent id: expected a storage type, found ${pyTypeName(type)}`);
  if (typeof key !== 'string') throw new Error(`persistent id: the storage key must be a str, found ${pyTypeName(key)}`);
  if (!isIndex(numel)) throw new Error(`persistent id of storage '${key}': the element count must be a non-negative int, found ${describe(numel)}`);
  if (viewMetadata !== undefined && viewMetadata !== null) {
    throw new Error(`storage '${key}' is a storage view, which only torch before 1.0 wrote; re-save the checkpoint with a newer torch`);
  }
  return new StorageRef(key, type.dtype, numel);
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
function rebuildTensor(args: readonly unknown[]): TensorRef {
  const what = 'torch._utils._rebuild_tensor_v2';
  if (args.length < 4) throw new Error(`${what}: expected at least 4 arguments, got ${args.length}`);
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new Error(`${what}: expected a storage, got ${pyTypeName(storage)}`);
  if (!isIndex(offset)) throw new Error(`${what}: the storage offset must be a non-negative int, found ${describe(offset)}`);
  const shape = indices(size, `${what} size`);
  const strides = indices(stride, `${what} stride`);
  if (strides.length !== shape.length) throw new Error(`${what}: ${shape.length} sizes but ${strides.length} strides`);
  return new TensorRef(storage, offset, shape, strides);
}

function indices(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every(isIndex)) throw new Error(`${what}: expected a tuple of non-negative ints, found ${pyTypeName(v)}`);
  return [...v];
}

/** A number as itself, anything else by its type. */
function describe(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : pyTypeName(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

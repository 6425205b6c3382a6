// The Tensor: a handle to one libtorch tensor, with the generated ops as methods.
import { DTYPE_OF_SCALAR_TYPE, ITEM_SIZE, numel, type DType, type RawTensor } from './dtype.ts';
import { dtypeCode, type Device, type MemoryFormat } from './codes.ts';
import { TensorOps } from './generated/methods.ts';
import { toCopy, toDtype } from './generated/ops.ts';
import { native, type Handle } from './native.ts';
import { track } from './scope.ts';

export type TypedArrayOf<D extends DType> = D extends 'f32' ? Float32Array : D extends 'f64' ? Float64Array
  : D extends 'i32' ? Int32Array : D extends 'i64' ? BigInt64Array : D extends 'i16' ? Int16Array
  : D extends 'i8' ? Int8Array : D extends 'f16' | 'bf16' ? Uint16Array : Uint8Array;

const ARRAY_OF: Record<DType, new (b: ArrayBuffer) => ArrayBufferView> = {
  f32: Float32Array, f64: Float64Array, i32: Int32Array, i64: BigInt64Array, i16: Int16Array, i8: Int8Array,
  u8: Uint8Array, bool: Uint8Array, f16: Uint16Array, bf16: Uint16Array,
};

/** Frees the native slot of a Tensor that became garbage without dispose() (a stale handle is ignored natively). */
const FREE_AT_GC = new FinalizationRegistry<Handle>((h) => native.dispose(h));

/**
 * New tensors wait here before they are registered with FREE_AT_GC: most are disposed (by a scope or
 * dispose()) before the next flush and never pay for a registration and its removal (0.26 us of a 1.4 us add,
 * measured). The list holds them strongly, so none can be collected unregistered; it is flushed every
 * PENDING_MAX tensors and at the next microtask, so a tensor dropped without dispose() is freed at most that
 * much later than it would otherwise be.
 */
let pending: Tensor[] = [];
let flushQueued = false;
const PENDING_MAX = 256;
function flushPending(): void {
  const list = pending;
  pending = [];
  flushQueued = false;
  for (const t of list) t._registerForGc();
}

export class Tensor extends TensorOps {
  #h: Handle | undefined;
  #shape: number[] | undefined;
  #dtype: DType | undefined;
  #device: Device | undefined;
  #registered = false;
  readonly __isTensor = true;

  constructor(h: Handle) {
    super();
    this.#h = h;
    // the native slot is freed by dispose() or, once this object is garbage, by the registry (see pending)
    pending.push(this);
    if (pending.length >= PENDING_MAX) flushPending();
    else if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flushPending);
    }
    track(this);
  }

  /** @internal Registers a still-live tensor with the GC's finaliser (flushPending). */
  _registerForGc(): void {
    if (this.#h === undefined || this.#registered) return;
    FREE_AT_GC.register(this, this.#h, this);
    this.#registered = true;
  }

  get h(): Handle {
    if (this.#h === undefined) throw new Error('tensor used after dispose()');
    return this.#h;
  }

  #meta(): void {
    const [st, device, , ...shape] = native.meta(this.h);
    this.#dtype = DTYPE_OF_SCALAR_TYPE[st];
    this.#device = device as Device;
    this.#shape = shape;
  }

  get shape(): number[] {
    if (!this.#shape) this.#meta();
    return this.#shape!.slice();
  }
  get dtype(): DType {
    if (!this.#dtype) this.#meta();
    return this.#dtype!;
  }
  get device(): Device {
    if (!this.#device) this.#meta();
    return this.#device!;
  }
  get ndim(): number {
    if (!this.#shape) this.#meta();
    return this.#shape!.length;
  }
  get numel(): number {
    if (!this.#shape) this.#meta();
    return numel(this.#shape!);
  }
  /** Size of one dimension; negative dims count from the end. */
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size(${dim}): tensor has ${s.length} dimensions`);
    return s[d];
  }

  get disposed(): boolean {
    return this.#h === undefined;
  }
  /** Frees the native tensor now instead of at garbage collection; idempotent. */
  dispose(): void {
    if (this.#h === undefined) return;
    native.dispose(this.#h);
    if (this.#registered) FREE_AT_GC.unregister(this);
    this.#h = undefined;
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return native.meta(this.h)[2];
  }
  set requiresGrad(on: boolean) {
    native.setRequiresGrad(this.h, on);
  }
  requiresGrad_(on = true): this {
    native.setRequiresGrad(this.h, on);
    return this;
  }
  get grad(): Tensor | undefined {
    const g = native.grad(this.h);
    return g ? new Tensor(g) : undefined;
  }
  set grad(g: Tensor | undefined) {
    native.setGrad(this.h, g?.h);
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.h);
  }
  get gradFn(): string | undefined {
    return native.gradFnName(this.h);
  }
  retainGrad(): this {
    native.retainGrad(this.h);
    return this;
  }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    const create = opts.createGraph ?? false;
    native.backward([this.h], gradient ? [gradient.h] : undefined, opts.retainGraph ?? create, create);
  }

  // ---- data ----
  /** A copy of the elements in a typed array of the tensor's dtype (f16/bf16 as raw Uint16 bits). */
  data<D extends DType = DType>(): TypedArrayOf<D> {
    return new ARRAY_OF[this.dtype](native.toBytes(this.h)) as TypedArrayOf<D>;
  }
  /** The elements as float64 numbers, whatever the dtype. */
  toArray(): number[] {
    const t = this.dtype === 'f64' ? this : toDtype(this, 'f64');
    const out = Array.from(t.data<'f64'>());
    if (t !== this) t.dispose();
    return out;
  }
  item(): number {
    return native.item(this.h);
  }
  raw(): RawTensor {
    return { dtype: this.dtype, shape: this.shape, data: new Uint8Array(native.toBytes(this.h)) };
  }

  // ---- conversion ----
  to(target: DType | Device, opts: { memoryFormat?: MemoryFormat; copy?: boolean } = {}): Tensor {
    if (isDType(target)) return toDtype(this, target, false, opts.copy ?? false, opts.memoryFormat);
    if (!/^(cpu|meta|cuda(:\d+)?)$/.test(target)) throw new TypeError(`to(): unknown dtype or device '${target}'`);
    return toCopy(this, undefined, undefined, target, undefined, false, opts.memoryFormat);
  }
  float(): Tensor { return this.to('f32'); }
  double(): Tensor { return this.to('f64'); }
  half(): Tensor { return this.to('f16'); }
  bfloat16(): Tensor { return this.to('bf16'); }
  long(): Tensor { return this.to('i64'); }
  int(): Tensor { return this.to('i32'); }
  bool(): Tensor { return this.to('bool'); }

  override toString(): string {
    if (this.disposed) return 'Tensor(disposed)';
    return `Tensor(${this.dtype}[${this.shape.join(',')}]${this.device === 'cpu' ? '' : ' ' + this.device})`;
  }
}

function isDType(x: string): x is DType {
  return x in ITEM_SIZE;
}

export function wrap(h: Handle): Tensor {
  return new Tensor(h);
}

type Nested = number | boolean | Nested[];

function flatten(data: Nested, shape: number[], out: number[], depth: number): void {
  if (Array.isArray(data)) {
    if (shape.length === depth) shape.push(data.length);
    else if (shape[depth] !== data.length) throw new Error(`tensor(): ragged nested array at depth ${depth}: expected length ${shape[depth]}, found ${data.length}`);
    for (const d of data) flatten(d, shape, out, depth + 1);
  } else {
    if (depth !== shape.length) throw new Error(`tensor(): ragged nested array: a number at depth ${depth}`);
    out.push(Number(data));
  }
}

/** A tensor from numbers (nested arrays give the shape) or a typed array with a shape. */
export function tensor(data: Nested | ArrayBufferView, opts: { shape?: number[]; dtype?: DType } = {}): Tensor {
  let dtype = opts.dtype;
  if (ArrayBuffer.isView(data)) {
    const inferred = data instanceof Float64Array ? 'f64' : data instanceof Int32Array ? 'i32'
      : data instanceof BigInt64Array ? 'i64' : data instanceof Uint8Array ? 'u8' : data instanceof Int8Array ? 'i8'
      : data instanceof Int16Array ? 'i16' : 'f32';
    dtype ??= inferred;
    const shape = opts.shape ?? [data.byteLength / ITEM_SIZE[dtype]];
    if (numel(shape) * ITEM_SIZE[dtype] !== data.byteLength) {
      throw new Error(`tensor(): shape [${shape}] of ${dtype} needs ${numel(shape) * ITEM_SIZE[dtype]} bytes, the array has ${data.byteLength}`);
    }
    return new Tensor(native.fromBytes(data, shape, dtypeCode(dtype)!));
  }
  const shape: number[] = [];
  const flat: number[] = [];
  flatten(data, shape, flat, 0);
  const target = opts.shape ?? shape;
  const f64 = new Tensor(native.fromBytes(new Float64Array(flat), target, dtypeCode('f64')!));
  dtype ??= 'f32';
  if (dtype === 'f64') return f64;
  const t = toDtype(f64, dtype);
  f64.dispose();
  return t;
}

export function fromRaw(raw: RawTensor): Tensor {
  return new Tensor(native.fromBytes(raw.data, raw.shape, dtypeCode(raw.dtype)!));
}

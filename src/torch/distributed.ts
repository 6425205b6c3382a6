// Multi-process data parallelism on libtorch's c10d (native/distributed.cc): one process group per
// process, rank 0 hosts the rendezvous store, gloo moves CPU tensors and NCCL CUDA ones. Every call
// blocks until all ranks took part, or throws after the group's timeout.
import { ITEM_SIZE, isFloating } from './dtype.ts';
import { native, type Handle } from './native.ts';
import { noGrad } from './autograd.ts';
import { scope } from './scope.ts';
import { cat, zerosLike } from './generated/ops.ts';
import type { Tensor } from './tensor.ts';

export type DistBackend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'avg' | 'max';

export interface ProcessGroupOptions {
  backend: DistBackend;
  rank: number;
  worldSize: number;
  /** Host of rank 0, which serves the rendezvous store on masterPort. */
  masterAddr: string;
  masterPort: number;
  /** Bound on rendezvous and on every collective; default 30 minutes (as torch.distributed). */
  timeoutMs?: number;
}

/** What a launcher passes to each process (see src/train/launch.ts). */
export interface LaunchedProcess extends ProcessGroupOptions {
  /** Index of this process on its machine: the CUDA device it should use. */
  localRank: number;
}

interface NativeDistributed {
  distInit(backend: string, rank: number, worldSize: number, addr: string, port: number, timeoutMs: number): void;
  distAllReduce(h: Handle, op: string): void;
  distBroadcast(h: Handle, src: number): void;
  distBarrier(): void;
  distInfo(): { initialized: boolean; backend: string; rank: number; worldSize: number; gloo: boolean; nccl: boolean };
  distDestroy(): void;
}
const dist = native as unknown as NativeDistributed;

export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
/** Gradients are reduced in flat buckets of about this size (as DistributedDataParallel's default). */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

function checkInt(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`initProcessGroup: ${what} must be an integer in [${min}, ${max}], got ${v}`);
}

/** Joins the process group; returns once every rank has joined (or throws after timeoutMs). */
export function initProcessGroup(o: ProcessGroupOptions): void {
  checkInt('worldSize', o.worldSize, 1, 1 << 20);
  checkInt('rank', o.rank, 0, o.worldSize - 1);
  checkInt('masterPort', o.masterPort, 1, 65535);
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  checkInt('timeoutMs', timeoutMs, 1, Number.MAX_SAFE_INTEGER);
  dist.distInit(o.backend, o.rank, o.worldSize, o.masterAddr, o.masterPort, timeoutMs);
}

/**
 * The group a launcher described in the environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
 * LOCAL_RANK), or undefined when WORLD_SIZE is unset (a plain single-process run).
 */
export function fromEnv(opts: { backend?: DistBackend; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): LaunchedProcess | undefined {
  const env = opts.env ?? process.env;
  if (env.WORLD_SIZE === undefined) return undefined;
  const int = (name: string, fallback?: number): number => {
    const raw = env[name];
    if (raw === undefined && fallback !== undefined) return fallback;
    const v = Number(raw);
    if (raw === undefined || raw.trim() === '' || !Number.isInteger(v) || v < 0) {
      throw new Error(`distributed environment: expected ${name} to be a non-negative integer, found ${raw === undefined ? 'nothing' : `'${raw}'`}`);
    }
    return v;
  };
  const rank = int('RANK');
  return {
    backend: opts.backend ?? 'gloo',
    rank,
    worldSize: int('WORLD_SIZE'),
    localRank: int('LOCAL_RANK', rank),
    masterAddr: env.MASTER_ADDR || '127.0.0.1',
    masterPort: int('MASTER_PORT'),
    timeoutMs: opts.timeoutMs,
  };
}

export function isInitialized(): boolean {
  return dist.distInfo().initialized;
}

/** This process's rank; 0 without a process group. */
export function getRank(): number {
  const i = dist.distInfo();
  return i.initialized ? i.rank : 0;
}

/** Number of processes; 1 without a process group. */
export function getWorldSize(): number {
  const i = dist.distInfo();
  return i.initialized ? i.worldSize : 1;
}

/** Which backends this addon was built with. */
export function availableBackends(): DistBackend[] {
  const i = dist.distInfo();
  return [...(i.gloo ? ['gloo' as const] : []), ...(i.nccl ? ['nccl' as const] : [])];
}

/** Reduces t across ranks in place; every rank ends with the result. */
export function allReduce(t: Tensor, op: ReduceOp = 'sum'): Tensor {
  if (op === 'avg') {
    // gloo has no AVG (libtorch 1.x): sum, then divide.
    if (!isFloating(t.dtype)) throw new TypeError(`allReduce: 'avg' needs a floating tensor, got ${t.dtype}`);
    dist.distAllReduce(t.h, 'sum');
    noGrad(() => t.div_(getWorldSize()));
    return t;
  }
  dist.distAllReduce(t.h, op);
  return t;
}

/** Overwrites t on every rank with its value on rank src. */
export function broadcast(t: Tensor, src = 0): Tensor {
  dist.distBroadcast(t.h, src);
  return t;
}

/** Returns once every rank has called barrier(). */
export function barrier(): void {
  dist.distBarrier();
}

/** Leaves the group (idempotent); initProcessGroup may be called again afterwards. */
export function destroyProcessGroup(): void {
  dist.distDestroy();
}

/**
 * Runs fn in place on flat buckets of the tensors (same dtype and device, at most bucketBytes each, one
 * tensor alone when larger) and copies the result back: one collective per bucket instead of one per
 * tensor. Every rank must pass tensors of the same shapes in the same order.
 */
function coalesced(tensors: Tensor[], bucketBytes: number, fn: (flat: Tensor) => void): void {
  let bucket: Tensor[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (bucket.length === 0) return;
    const members = bucket;
    bucket = [];
    bytes = 0;
    scope(() => noGrad(() => {
      if (members.length === 1) return fn(members[0]);  // no copy needed (the addon handles strides)
      const flat = cat(members.map((t) => t.reshape([-1])));
      fn(flat);
      let offset = 0;
      for (const t of members) {
        t.copy_(flat.narrow(0, offset, t.numel).view(t.shape));
        offset += t.numel;
      }
    }));
  };
  let key = '';
  for (const t of tensors) {
    const k = `${t.dtype} ${t.device}`;
    const size = t.numel * ITEM_SIZE[t.dtype];
    if (k !== key || bytes + size > bucketBytes) flush();
    key = k;
    bucket.push(t);
    bytes += size;
  }
  flush();
}

/**
 * Averages the gradients of params over all ranks (bucketed flat all-reduce, then divide by the world
 * size), so each rank steps as if it had seen the whole global batch. Parameters that require grad
 * but got none this step are given zeros, so every rank reduces the same buckets.
 */
export function allReduceGradients(params: Tensor[], opts: { bucketBytes?: number } = {}): void {
  const world = getWorldSize();
  const grads: Tensor[] = [];
  for (const p of params) {
    if (!p.requiresGrad) continue;
    let g = p.grad;
    if (!g) {
      p.grad = noGrad(() => zerosLike(p));
      g = p.grad!;
    }
    grads.push(g);
  }
  coalesced(grads, opts.bucketBytes ?? DEFAULT_BUCKET_BYTES, (flat) => {
    dist.distAllReduce(flat.h, 'sum');
    flat.div_(world);
  });
}

/** Copies rank src's parameters (and any other tensors passed, e.g. buffers) to every rank. */
export function broadcastParameters(params: Tensor[], src = 0, opts: { bucketBytes?: number } = {}): void {
  coalesced(params, opts.bucketBytes ?? DEFAULT_BUCKET_BYTES, (flat) => dist.distBroadcast(flat.h, src));
}

// Process-level settings and facts of the linked libtorch.
import { realpathSync } from 'node:fs';
import os from 'node:os';
import { native } from './native.ts';

/** libtorch's intra-op threads; OpenBLAS's pool is set to the same count (its own default is one per core). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, got ${n}`);
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

export interface EngineInfo {
  torchVersion: string;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  /** The library that provides sgemm_, symlinks resolved. */
  blasLibrary: string;
  openBlas: boolean;
  threads: number;
  /** OpenBLAS's worker count (kept equal to `threads`); -1 with another BLAS. */
  blasThreads: number;
}

export function engineInfo(): EngineInfo {
  const b = native.buildInfo();
  let blas = b.blasLibrary;
  try {
    blas = realpathSync(blas);
  } catch { /* keep the unresolved name */ }
  return {
    torchVersion: b.torchVersion, cudaAvailable: b.cudaAvailable, cudaDeviceCount: b.cudaDeviceCount,
    blasLibrary: blas, openBlas: /openblas/i.test(blas), threads: native.getNumThreads(), blasThreads: native.getBlasThreads(),
  };
}

// libtorch's OpenMP pool starts with one thread here; use every core unless told otherwise.
setNumThreads(Number(process.env.STABLE_ANIMATOR_THREADS) || os.availableParallelism());

/**
 * Whether an engine error is a failed allocation: libtorch's CUDA caching allocator ("CUDA out of memory. Tried
 * to allocate ..."), the CUDA runtime ("CUDA error: out of memory"), libtorch's CPU allocator ("not enough
 * memory", "can't allocate memory") or ours (native/huge-page-allocator.cc: "CPU out of memory").
 */
export function isOutOfMemoryError(e: unknown): boolean {
  return e instanceof Error && /out of memory|not enough memory|can't allocate memory/i.test(e.message);
}

// Loads the native addon (build/torch.node) and resolves operator ids on first use.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque reference to one libtorch tensor: a number naming a slot of the addon's table (native/handle.h). */
export type Handle = { readonly __tensorHandle: unique symbol };
export type GeneratorHandle = { readonly __generatorHandle: unique symbol };

export interface NativeTorch {
  opLookup(name: string, overload: string): number;
  opSchema(id: number): string;
  opCall(id: number, ...args: unknown[]): unknown;
  fromBytes(bytes: ArrayBufferView, shape: number[], scalarType: number): Handle;
  toBytes(h: Handle): ArrayBuffer;
  meta(h: Handle): [number, string, boolean, ...number[]];
  item(h: Handle): number;
  dispose(h: Handle): void;
  liveTensors(): number;
  reportedBytes(): number;
  grad(h: Handle): Handle | undefined;
  setGrad(h: Handle, g: Handle | undefined): void;
  setRequiresGrad(h: Handle, on: boolean): void;
  isLeaf(h: Handle): boolean;
  gradFnName(h: Handle): string | undefined;
  retainGrad(h: Handle): void;
  backward(outputs: Handle[], grads: (Handle | undefined)[] | undefined, retainGraph: boolean, createGraph: boolean): void;
  autogradGrad(outputs: Handle[], inputs: Handle[], grads: (Handle | undefined)[] | undefined,
    retainGraph: boolean, createGraph: boolean, allowUnused: boolean): (Handle | undefined)[];
  setGradEnabled(on: boolean): boolean;
  setAutocast(device: 'cpu' | 'cuda', enabled: boolean, scalarType: number): [boolean, number];
  setNumThreads(n: number): void;
  getBlasThreads(): number;
  getNumThreads(): number;
  newGenerator(seed: number, device: string): GeneratorHandle;
  manualSeed(seed: number): void;
  checkpoint(fn: (inputs: Handle[]) => Handle[], inputs: Handle[]): Handle[];
  buildInfo(): { torchVersion: string; cudaAvailable: boolean; cudaDeviceCount: number; blasLibrary: string; parallelInfo: string };
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ADDON_PATH = join(root, 'build', 'torch.node');

function load(): NativeTorch {
  if (!existsSync(ADDON_PATH)) {
    throw new Error(`native addon not built (${ADDON_PATH} is missing): run 'npm run build:native' (needs 'apt-get install libtorch-dev libopenblas0-pthread')`);
  }
  // libgomp reads this when libtorch loads. Its idle workers spin ~300,000 iterations between parallel regions
  // by default, while Debian's OpenBLAS runs its own pthread worker for the GEMMs between them: with 2 threads
  // on 2 cores that made 3 busy threads (the demo at 2 threads took 2 min 42 s, no faster than at 1; with
  // 2000: 1 min 57 s, same frames to 4-5 digits). A value the user set is kept.
  process.env.GOMP_SPINCOUNT ??= '2000';
  return createRequire(import.meta.url)(ADDON_PATH) as NativeTorch;
}

export const native: NativeTorch = load();

/** Ids for a list of qualified operator names ("aten::add.Tensor"), looked up on first use. */
export function opIds(names: readonly string[]): (i: number) => number {
  const ids = new Int32Array(names.length).fill(-1);
  return (i) => {
    let id = ids[i];
    if (id < 0) {
      const [name, overload = ''] = names[i].split('.');
      id = ids[i] = native.opLookup(name, overload);
    }
    return id;
  };
}

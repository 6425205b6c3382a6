// Seeded random damage to real checkpoint files (both formats, zip and legacy .pth, zip64 + deflate,
// safetensors): every load must return well-formed tensors or throw an Error that names the file, quickly,
// without allocating more than the file could justify. Run by the test (2,000 mutations) and by
// `npm run fuzz -- --seconds N` (scripts/fuzz.ts) for longer campaigns.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ITEM_SIZE, numel, type RawTensor } from '../../src/torch/dtype.ts';
import { loadPth, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/torch/serialization/index.ts';
import { createRng, type Rng } from '../../src/util/rng.ts';
import { buildZip, FIXTURE_DIR, fixtureRecords } from './helpers.ts';

export function mutate(bytes: Uint8Array, rng: Rng): Uint8Array {
  const at = rng.int(bytes.length);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(256));
  switch (rng.int(5)) {
    case 0: { // flip a few bytes
      const out = bytes.slice();
      for (let k = 1 + rng.int(4); k > 0; k--) out[rng.int(out.length)] = rng.int(256);
      return out;
    }
    case 1: // truncate
      return bytes.slice(0, at);
    case 2: { // insert random bytes
      const out = new Uint8Array(bytes.length + 1 + rng.int(16));
      out.set(bytes.subarray(0, at));
      out.set(randomBytes(out.length - bytes.length), at);
      out.set(bytes.subarray(at), at + out.length - bytes.length);
      return out;
    }
    case 3: { // delete a few bytes
      const out = new Uint8Array(bytes.length);
      out.set(bytes.subarray(0, at));
      const n = Math.min(1 + rng.int(16), bytes.length - at);
      out.set(bytes.subarray(at + n), at);
      return out.subarray(0, bytes.length - n);
    }
    default: { // overwrite with a value that looks like an extreme length or count
      const out = bytes.slice();
      const extreme = [[0xff, 0xff, 0xff, 0xff], [0xff, 0xff, 0xff, 0x7f], [0, 0, 0, 0x80], [0, 0, 0, 0]][rng.int(4)];
      out.set(extreme.slice(0, out.length - at), at);
      return out;
    }
  }
}

export function sampleSafetensors(dir: string): Uint8Array {
  const path = join(dir, 'sample.safetensors');
  const f32 = new Uint8Array(Float32Array.from({ length: 24 }, (_, i) => i / 7).buffer);
  writeSafetensors(path, {
    'conv.weight': { dtype: 'f32', shape: [2, 3, 2, 2], data: f32 },
    'conv.bias': { dtype: 'f16', shape: [2], data: new Uint8Array([0, 0x3c, 0, 0xc0]) },
    step: { dtype: 'i64', shape: [], data: new Uint8Array(8).fill(1) },
    mask: { dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) },
  }, { format: 'pt' });
  return readBytes(path);
}

/** The file as a plain Uint8Array: a Buffer's slice() is a view, and mutations must not pile up. */
function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

export interface FuzzOutcome {
  loaded: number;
  refused: number;
}

export interface FuzzResult {
  mutations: number;
  outcomes: Record<string, FuzzOutcome>;
  /** What broke the contract: a non-Error, an error not naming the file, an oversized tensor or allocation. */
  violations: string[];
  slowestMs: number;
}

/** Mutates and loads until `mutations` are done or `seconds` have passed (whichever is given). */
export function runFuzz(dir: string, o: { mutations?: number; seconds?: number; seed?: number }): FuzzResult {
  const bases: [string, Uint8Array, (path: string) => Map<string, RawTensor> | unknown][] = [
    ['zip.pth', readBytes(join(FIXTURE_DIR, 'state_dict.pth')), loadPth],
    ['legacy.pth', readBytes(join(FIXTURE_DIR, 'state_dict_legacy.pth')), loadPth],
    ['zip64-deflate.pth', buildZip(fixtureRecords().map((r) => ({ ...r, deflate: true })), { zip64: true }), loadPth],
    ['sample.safetensors', sampleSafetensors(dir), (p) => (readSafetensorsHeader(p), readSafetensors(p))],
  ];
  const rng = createRng(o.seed ?? 20240611);
  const outcomes: Record<string, FuzzOutcome> = Object.fromEntries(bases.map(([name]) => [name, { loaded: 0, refused: 0 }]));
  const violations: string[] = [];
  const baseline = process.memoryUsage().arrayBuffers;
  const deadline = o.seconds !== undefined ? performance.now() + o.seconds * 1000 : Infinity;
  let slowest = 0;
  let i = 0;
  for (; (o.mutations === undefined || i < o.mutations) && performance.now() < deadline; i++) {
    const [name, original, load] = bases[i % bases.length]!;
    const bytes = mutate(original, rng);
    const path = join(dir, `mutant-${name}`);
    writeFileSync(path, bytes);
    const start = performance.now();
    let result: unknown;
    try {
      result = load(path);
      outcomes[name]!.loaded++;
    } catch (err) {
      if (!(err instanceof Error)) violations.push(`mutation ${i} of ${name} threw a non-Error: ${String(err)}`);
      else if (!(err.message.startsWith(`${path}: `) && err.message.length > path.length + 4)) violations.push(`mutation ${i} of ${name}: ${err.message}`);
      outcomes[name]!.refused++;
    }
    slowest = Math.max(slowest, performance.now() - start);
    if (result instanceof Map) {
      for (const [key, t] of result as Map<string, RawTensor>) {
        if (t.data.length !== numel(t.shape) * ITEM_SIZE[t.dtype]) violations.push(`mutation ${i} of ${name}: ${key} has ${t.data.length} bytes for [${t.shape}]`);
        if (t.data.length > bytes.length) violations.push(`mutation ${i} of ${name}: ${key} is bigger than the file`);
      }
    }
    if (process.memoryUsage().arrayBuffers - baseline >= 2 ** 26) violations.push(`mutation ${i} of ${name} allocated too much`);
  }
  return { mutations: i, outcomes, violations, slowestMs: slowest };
}

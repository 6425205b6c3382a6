// Seeded random damage to real checkpoint files: every loader must either return well-formed tensors or
// throw an Error that names the file, quickly, without allocating more than the file could justify.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ITEM_SIZE, numel, type RawTensor } from '../../src/torch/dtype.ts';
import { loadPth, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/torch/serialization/index.ts';
import { createRng, type Rng } from '../../src/util/rng.ts';
import { buildZip, FIXTURE_DIR, fixtureRecords, withTempDir } from './helpers.ts';

const MUTATIONS = 2000;

function mutate(bytes: Uint8Array, rng: Rng): Uint8Array {
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

function sampleSafetensors(dir: string): Uint8Array {
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

test(`${MUTATIONS} random mutations: each load returns sane tensors or throws an Error naming the file`, { timeout: 60_000 }, () =>
  withTempDir((dir) => {
    const bases: [string, Uint8Array, (path: string) => Map<string, RawTensor> | unknown][] = [
      ['zip.pth', readBytes(join(FIXTURE_DIR, 'state_dict.pth')), loadPth],
      ['legacy.pth', readBytes(join(FIXTURE_DIR, 'state_dict_legacy.pth')), loadPth],
      ['zip64-deflate.pth', buildZip(fixtureRecords().map((r) => ({ ...r, deflate: true })), { zip64: true }), loadPth],
      ['sample.safetensors', sampleSafetensors(dir), (p) => (readSafetensorsHeader(p), readSafetensors(p))],
    ];
    const rng = createRng(20240611);
    const outcomes = new Map(bases.map(([name]) => [name, { loaded: 0, refused: 0 }]));
    const baseline = process.memoryUsage().arrayBuffers;
    let slowest = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      const [name, original, load] = bases[i % bases.length];
      const bytes = mutate(original, rng);
      const path = join(dir, `mutant-${name}`);
      writeFileSync(path, bytes);
      const start = performance.now();
      let result: unknown;
      try {
        result = load(path);
        outcomes.get(name)!.loaded++;
      } catch (err) {
        assert.ok(err instanceof Error, `mutation ${i} of ${name} threw a non-Error: ${String(err)}`);
        assert.ok(err.message.startsWith(`${path}: `) && err.message.length > path.length + 4, `mutation ${i} of ${name}: ${err.message}`);
        outcomes.get(name)!.refused++;
      }
      slowest = Math.max(slowest, performance.now() - start);
      if (result instanceof Map) {
        for (const [key, t] of result as Map<string, RawTensor>) {
          assert.equal(t.data.length, numel(t.shape) * ITEM_SIZE[t.dtype], `mutation ${i} of ${name}: ${key}`);
          assert.ok(t.data.length <= bytes.length, `mutation ${i} of ${name}: ${key} is bigger than the file`);
        }
      }
      assert.ok(process.memoryUsage().arrayBuffers - baseline < 2 ** 26, `mutation ${i} of ${name} allocated too much`);
    }
    assert.ok(slowest < 1000, `slowest load took ${slowest.toFixed(0)} ms`);
    // The mutations must exercise both outcomes for every format, or the test proves little.
    for (const [name, { loaded, refused }] of outcomes) {
      assert.ok(loaded > 20 && refused > 20, `${name}: ${loaded} loaded, ${refused} refused`);
    }
  }));

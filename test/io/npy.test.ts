import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseNpy, readNpy } from '../../src/io/npy.ts';
import { toPlain } from '../../src/io/numpy-pickle.ts';
import { parseDwposeSequence } from '../../src/pose/dwpose-file.ts';
import { PoseFileError } from '../../src/pose/pose-file-check.ts';
import { createRng } from '../../src/util/rng.ts';
import { mutate } from '../serialization/fuzz-harness.ts';

// Written by NumPy 2.4 with test/fixtures/npy_poses/make.py.
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/npy_poses/${name}`, import.meta.url));
const MARKER = '/tmp/stable-animator-hostile-npy-marker';

test('plain arrays: float32, big-endian int16 in Fortran order, float16, bool', async () => {
  assert.deepEqual(await readNpy(fixture('numeric_f4.npy')), { shape: [2, 3], dtype: 'float32', value: [[0, 0.25, 0.5], [0.75, 1, 1.25]] });
  assert.deepEqual(await readNpy(fixture('numeric_i2_be_fortran.npy')), { shape: [2, 3], dtype: 'int16', value: [[1, -2, 3], [-4, 5, 300]] });
  // 1e-7 is below float16's smallest normal: the subnormal 2 * 2^-24
  assert.deepEqual((await readNpy(fixture('numeric_f2.npy'))).value, [0.5, -2, 65504, 2 * 2 ** -24]);
  assert.deepEqual((await readNpy(fixture('numeric_bool.npy'))).value, [true, false, true]);
});

test('object arrays of dicts (NumPy 2.x and 1.x pickles) read as ndarray.tolist() gives them', async () => {
  const asJson = JSON.parse(readFileSync(fixture('musepose.json'), 'utf8'));
  const two = await readNpy(fixture('musepose.npy'));
  assert.deepEqual([two.shape, two.dtype], [[3], 'object']);
  assert.deepEqual(two.value, asJson);
  assert.equal((two.value as { hands: unknown[] }[])[1]!.hands.length, 4);
  assert.deepEqual((await readNpy(fixture('musepose_numpy1.npy'))).value, asJson);
  // A Fortran-ordered float32 array and a numpy scalar inside the dict; a 0-d array is its item.
  const [scored] = (await readNpy(fixture('scored.npy'))).value as Record<string, unknown>[];
  assert.deepEqual(scored, JSON.parse(readFileSync(fixture('scored.json'), 'utf8'))[0]);
  assert.equal(scored!.detect_resolution, 1024);
  const one = await readNpy(fixture('frames/1.npy'));
  assert.deepEqual([one.shape, one.value], [[], asJson[1]]);
});

test('a pickle calling anything outside the allow-list is refused, naming the file and the global, and runs nothing', async () => {
  rmSync(MARKER, { force: true });
  for (const [name, global] of [['hostile_system.npy', 'posix.system'], ['hostile_eval.npy', 'builtins.eval']] as const) {
    const path = fixture(name);
    await assert.rejects(readNpy(path), (err: Error) => {
      assert.ok(err.message.startsWith(`${path}: refusing to load: the pickle references the global '${global}'`), err.message);
      assert.match(err.message, /not on the allow-list of NumPy array globals \(numpy\.ndarray, numpy\.dtype, .*numpy\._core\.multiarray\._reconstruct.*\); nothing was run$/);
      return true;
    });
  }
  assert.ok(!existsSync(MARKER), 'nothing ran');
});

test('damaged files: wrong magic, a header that disagrees with the pickle, a truncated pickle, unsupported dtypes', () => {
  assert.throws(() => parseNpy(new TextEncoder().encode('{"frames": []}'), 'x.npy'), /^Error: x\.npy: not a \.npy file: expected the magic \\x93NUMPY, found "\{\\"fram"$/);
  const good = readFileSync(fixture('musepose.npy'));
  const text = good.toString('latin1');
  const reshaped = Buffer.from(text.replace("'shape': (3,)", "'shape': (4,)"), 'latin1');
  assert.throws(() => parseNpy(reshaped, 'm.npy'), /^Error: m\.npy: the header gives shape \(4\), the pickled array has \(3\)$/);
  assert.throws(() => parseNpy(good.subarray(0, good.length - 40), 'cut.npy'), /^Error: cut\.npy: unexpected end of data/);
  const strings = Buffer.from(readFileSync(fixture('numeric_f4.npy')).toString('latin1').replace("'<f4'", "'<U1'"), 'latin1');
  assert.throws(() => parseNpy(strings, 's.npy'), /^Error: s\.npy: unsupported dtype '<U1' \(supported: bool, int8-64, uint8-64, float16-64, object\)$/);
  const short = readFileSync(fixture('numeric_f4.npy')).subarray(0, -4);
  assert.throws(() => parseNpy(short, 'f.npy'), /^Error: f\.npy: expected 6 item\(s\) of float32 \(24 bytes\), found 20 bytes$/);
});

test('tolist conversion: shared objects converted once, a list inside itself refused', () => {
  const shared = new Map([['x', 1]]);
  const plain = toPlain([shared, shared]) as object[];
  assert.deepEqual(plain, [{ x: 1 }, { x: 1 }]);
  assert.equal(plain[0], plain[1]);
  const loop: unknown[] = [];
  loop.push(loop);
  assert.throws(() => toPlain(loop), /the data contains itself \(a list inside itself\)/);
  const proto = toPlain(new Map([['__proto__', 5]])) as Record<string, unknown>;
  assert.deepEqual(Object.keys(proto), ['__proto__']);
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
});

test('2,000 random mutations of object-array files: each read returns or throws an Error naming the file, quickly', () => {
  const rng = createRng(16);
  const files = ['musepose.npy', 'scored.npy', 'numeric_i2_be_fortran.npy'].map((name) => new Uint8Array(readFileSync(fixture(name)))); // copies: the mutator's slice() of a Buffer would share memory
  let refused = 0;
  const start = Date.now();
  for (let i = 0; i < 2000; i++) {
    const bytes = mutate(files[i % files.length]!, rng);
    try {
      const { value } = parseNpy(bytes, 'mutant.npy');
      try {
        parseDwposeSequence(value, 'mutant.npy');
      } catch (err) {
        assert.ok(err instanceof PoseFileError && err.message.startsWith('mutant.npy: '), String(err));
      }
    } catch (err) {
      assert.ok(err instanceof Error && err.message.startsWith('mutant.npy: '), String(err));
      refused++;
    }
  }
  assert.ok(refused > 500, `${refused} refused`);
  assert.ok(Date.now() - start < 30_000);
});

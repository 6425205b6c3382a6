import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DType, RawTensor } from '../../src/torch/dtype.ts';
import { loadPth } from '../../src/torch/serialization/index.ts';
import { buildZip, concat, FIXTURE_DIR, fixtureRecords, op, rawValues, tensorPickle, withTempDir, type ZipInput } from './helpers.ts';

interface Expected {
  dtype: string;
  shape: number[];
  values: number[];
}
const EXPECTED = JSON.parse(readFileSync(join(FIXTURE_DIR, 'expected.json'), 'utf8')) as Record<string, Expected>;
const TORCH_DTYPES: Record<string, DType> = { float32: 'f32', float16: 'f16', bfloat16: 'bf16', int64: 'i64', bool: 'bool' };

function assertMatchesExpected(dict: Map<string, RawTensor>): void {
  assert.deepEqual([...dict.keys()], Object.keys(EXPECTED));
  for (const [name, e] of Object.entries(EXPECTED)) {
    const t = dict.get(name)!;
    assert.equal(t.dtype, TORCH_DTYPES[e.dtype], name);
    assert.deepEqual(t.shape, e.shape, name);
    assert.deepEqual(rawValues(t), e.values, name);
  }
}

for (const file of ['state_dict.pth', 'state_dict_legacy.pth']) {
  test(`${file} (torch 1.13 torch.save) loads exactly as expected.json`, () => {
    const dict = loadPth(join(FIXTURE_DIR, file));
    assertMatchesExpected(dict);
    // The transposed weight is gathered into row-major order, and the two views keep their overlap.
    const a = rawValues(dict.get('shared.a')!);
    assert.deepEqual(rawValues(dict.get('shared.b')!).slice(0, 2), a.slice(2, 4));
    assert.equal(dict.get('noncontig.weight')!.data.length, 6 * 4 * 4);
  });
}

test('a re-packed checkpoint loads the same: deflated records, zip64 records, another folder name', () =>
  withTempDir((dir) => {
    const records = fixtureRecords();
    const variants: [string, Uint8Array][] = [
      ['deflate', buildZip(records.map((r) => ({ ...r, deflate: true })))],
      ['zip64', buildZip(records, { zip64: true })],
      ['zip64 + deflate', buildZip(records.map((r) => ({ ...r, deflate: r.name.endsWith('.pkl') })), { zip64: true })],
      ['archive/', buildZip(records.map((r) => ({ ...r, name: r.name.replace(/^state_dict\//, 'archive/') })))],
    ];
    for (const [what, bytes] of variants) {
      const path = join(dir, `${what.replace(/\W+/g, '_')}.pth`);
      writeFileSync(path, bytes);
      assert.doesNotThrow(() => assertMatchesExpected(loadPth(path)), what);
    }
  }));

test('a flipped bit in a stored tensor fails its CRC-32 check; a pickle over the size cap is refused before inflating', () =>
  withTempDir((dir) => {
    const records = fixtureRecords();
    const original = readFileSync(join(FIXTURE_DIR, 'state_dict.pth'));
    // flip one bit inside the first tensor record's bytes, in place in the torch-written file
    const target = records.find((r) => /\/data\/\d+$/.test(r.name))!;
    const at = original.indexOf(Buffer.from(target.data.subarray(0, 16)));
    assert.ok(at > 0, 'the record is stored uncompressed');
    const damaged = Buffer.from(original);
    damaged[at + 5] ^= 0x10;
    const path = join(dir, 'damaged.pth');
    writeFileSync(path, damaged);
    assert.throws(() => loadPth(path), new RegExp(`${target.name.replace(/[/.]/g, '\\$&')}' fails its CRC-32 check \\(recorded 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\): the file is damaged`));
    // a data.pkl over the cap is refused by its size, whatever the compression ratio
    const pkl = records.find((r) => r.name.endsWith('data.pkl'))!;
    const bomb = new Uint8Array(65 << 20); // 65 MiB of zeros deflate to ~65 KB
    const bombPath = join(dir, 'bomb.pth');
    writeFileSync(bombPath, buildZip([{ ...pkl, data: bomb, deflate: true }, ...records.filter((r) => r !== pkl)]));
    assert.throws(() => loadPth(bombPath), /data\.pkl' is 68157440 bytes uncompressed, above the limit of 67108864 for it/);
  }));

/** A zip checkpoint whose data.pkl is `pickle` and whose storages are f32 `storages[key]`. */
function writeZipCheckpoint(path: string, pickle: Uint8Array, storages: Record<string, number[]> = {}): string {
  const records: ZipInput[] = [{ name: 'archive/data.pkl', data: pickle }];
  for (const [key, values] of Object.entries(storages)) {
    records.push({ name: `archive/data/${key}`, data: new Uint8Array(Float32Array.from(values).buffer) });
  }
  writeFileSync(path, buildZip(records));
  return path;
}

/** PROTO 2, an OrderedDict of the given (name, pickled value) pairs, STOP. */
function dictPickle(items: [string, Uint8Array | number[]][], factory: Uint8Array | number[] = op.emptyDict): Uint8Array {
  return concat(op.proto(2), factory, op.mark, ...items.flatMap(([k, v]) => [op.str(k), v]), op.setitems, op.stop);
}
const orderedDict = concat(op.global('collections', 'OrderedDict'), op.emptyTuple, op.reduce);

test('strided views are gathered: a transpose, a permuted 3-D view with an offset, a row view', () =>
  withTempDir((dir) => {
    const storage = Array.from({ length: 30 }, (_, i) => i);
    const path = writeZipCheckpoint(join(dir, 'views.pth'), dictPickle([
      ['t', tensorPickle('0', 30, 0, [2, 3], [1, 2])],
      ['p', tensorPickle('0', 30, 5, [2, 2, 3], [1, 6, 2])],
      ['row', tensorPickle('0', 30, 12, [3], [1])],
      ['scalar', tensorPickle('0', 30, 29, [], [])],
      ['empty', tensorPickle('0', 30, 0, [0, 3], [3, 1])],
    ], orderedDict), { 0: storage });
    const dict = loadPth(path);
    assert.deepEqual(rawValues(dict.get('t')!), [0, 2, 4, 1, 3, 5]);
    // p[i][j][k] = storage[5 + i + 6j + 2k]
    assert.deepEqual(rawValues(dict.get('p')!), [5, 7, 9, 11, 13, 15, 6, 8, 10, 12, 14, 16]);
    assert.deepEqual(rawValues(dict.get('row')!), [12, 13, 14]);
    assert.deepEqual(rawValues(dict.get('scalar')!), [29]);
    assert.deepEqual(dict.get('empty')!, { dtype: 'f32', shape: [0, 3], data: new Uint8Array(0) });
  }));

test('a state dict nested under state_dict or module is unwrapped', () =>
  withTempDir((dir) => {
    for (const key of ['state_dict', 'module']) {
      const inner = concat(orderedDict, op.mark, op.str('w'), tensorPickle('0', 2, 0, [2], [1]), op.setitems);
      const path = writeZipCheckpoint(join(dir, `${key}.pth`), dictPickle([['epoch', op.int(3)], [key, inner]]), { 0: [1.5, -2] });
      const dict = loadPth(path);
      assert.deepEqual([...dict.keys()], ['w'], key);
      assert.deepEqual(rawValues(dict.get('w')!), [1.5, -2]);
    }
  }));

test('anything but a flat dict of tensors is reported clearly', () =>
  withTempDir((dir) => {
    const cases: [Uint8Array, Record<string, number[]>, RegExp][] = [
      [concat(op.proto(2), op.emptyList, op.stop), {}, /expected a state dict \(a dict of name -> tensor\), found list/],
      [dictPickle([['epoch', op.int(3)], ['model', op.emptyDict]]), {},
        /expected a state dict \(a flat dict of name -> tensor\), but 'epoch' is a int \(keys: epoch, model\)/],
      [dictPickle([['w', tensorPickle('0', 2, 0, [2], [1])], ['nested', op.emptyDict]]), { 0: [1, 2] }, /'nested' is a dict/],
      [dictPickle([['w', tensorPickle('7', 2, 0, [2], [1])]]), {}, /storage '7' has no record archive\/data\/7 in the archive/],
      [dictPickle([['w', tensorPickle('0', 3, 0, [3], [1])]]), { 0: [1, 2] }, /storage '0' holds 8 bytes, but tensor 'w' reads it as 3 f32 elements/],
      [dictPickle([['w', tensorPickle('0', 2, 1, [2], [1])]]), { 0: [1, 2] }, /tensor 'w' \(offset 1, size \[2\], stride \[1\]\) reaches element 2 of its 2-element storage '0'/],
      [dictPickle([['w', tensorPickle('0', 2, 0, [1000], [0])]]), { 0: [1, 2] }, /tensor 'w' has 1000 elements, but its storage '0' holds only 2/],
    ];
    for (const [pickle, storages, expected] of cases) {
      const path = writeZipCheckpoint(join(dir, 'bad.pth'), pickle, storages);
      assert.throws(() => loadPth(path), (e: Error) => e.message.startsWith(`${path}: `) && expected.test(e.message), String(expected));
    }
    const text = join(dir, 'notes.pth');
    writeFileSync(text, 'hello');
    assert.throws(() => loadPth(text), /notes\.pth: not a PyTorch checkpoint: neither a zip archive nor a pickle/);
    const noPickle = join(dir, 'nopkl.pth');
    writeFileSync(noPickle, buildZip([{ name: 'archive/version', data: new Uint8Array([0x33]) }]));
    assert.throws(() => loadPth(noPickle), /expected one data\.pkl in the zip archive, found 0/);
  }));

/** PROTO 2, GLOBAL module.name, a str argument, TUPLE1, REDUCE, STOP: `module.name(arg)`. */
function callPickle(module: string, name: string, arg: string): Uint8Array {
  return concat(op.proto(2), op.global(module, name), op.str(arg), op.tuple1, op.reduce, op.stop);
}

const refusal = (path: string, global: string) =>
  `${path}: refusing to load: pickle references global '${global}', which is not on the allow-list of tensor-rebuild globals`;

test('a pickle calling os.system is refused, naming the global, and nothing runs', () =>
  withTempDir((dir) => {
    const marker = join(dir, 'pwned');
    for (const [module, name] of [['posix', 'system'], ['os', 'system'], ['subprocess', 'Popen'], ['builtins', 'eval'], ['torch.storage', '_load_from_bytes']]) {
      const payload = callPickle(module, name, `touch ${marker}`);
      const raw = join(dir, 'evil.pth');
      writeFileSync(raw, payload);
      assert.throws(() => loadPth(raw), { message: refusal(raw, `${module}.${name}`) });
      const zipped = writeZipCheckpoint(join(dir, 'evil-zip.pth'), payload);
      assert.throws(() => loadPth(zipped), { message: refusal(zipped, `${module}.${name}`) });
    }
    assert.equal(existsSync(marker), false, 'the command never ran');
  }));

test('the refusal comes when the global is read, before any later opcode', () =>
  withTempDir((dir) => {
    // STACK_GLOBAL form, followed by an opcode that would fail on its own if interpretation went on.
    const path = join(dir, 'stack-global.pth');
    writeFileSync(path, concat(op.proto(4), op.str('builtins'), op.str('exec'), [0x93], [0xff]));
    assert.throws(() => loadPth(path), { message: refusal(path, 'builtins.exec') });
    // Inside a valid-looking state dict, after tensors were already described.
    const mixed = writeZipCheckpoint(join(dir, 'mixed.pth'),
      dictPickle([['w', tensorPickle('0', 2, 0, [2], [1])], ['x', callPickle('posix', 'system', 'id').subarray(2, -1)]]), { 0: [1, 2] });
    assert.throws(() => loadPth(mixed), { message: refusal(mixed, 'posix.system') });
  }));

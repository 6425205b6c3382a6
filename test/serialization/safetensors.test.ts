import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ITEM_SIZE, numel, type DType, type RawTensor } from '../../src/torch/dtype.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/torch/serialization/index.ts';
import { concat, rawValues, SHARED_FIXTURES, withTempDir } from './helpers.ts';

/** A RawTensor from values; f16/bf16 values are given as bit patterns. */
function raw(dtype: DType, shape: number[], values: number[]): RawTensor {
  const size = ITEM_SIZE[dtype];
  const data = new Uint8Array(values.length * size);
  const dv = new DataView(data.buffer);
  values.forEach((v, i) => {
    const at = i * size;
    switch (dtype) {
      case 'f64': dv.setFloat64(at, v, true); break;
      case 'f32': dv.setFloat32(at, v, true); break;
      case 'f16': case 'bf16': case 'i16': dv.setUint16(at, v & 0xffff, true); break;
      case 'i64': dv.setBigInt64(at, BigInt(v), true); break;
      case 'i32': dv.setInt32(at, v, true); break;
      default: dv.setUint8(at, v & 0xff);
    }
  });
  return { dtype, shape, data };
}

// One tensor per dtype with edge values, plus a scalar and an empty tensor.
const ALL: Record<string, { t: RawTensor; values: number[] }> = {
  f64: { t: raw('f64', [2, 2], [1.5, -2.25, 1e300, 5e-324]), values: [1.5, -2.25, 1e300, 5e-324] },
  f32: { t: raw('f32', [3], [0.5, -3, 2 ** -149]), values: [0.5, -3, 2 ** -149] },
  f16: { t: raw('f16', [2, 2], [0x3c00, 0xc000, 0x7bff, 0x0001]), values: [1, -2, 65504, 2 ** -24] },
  bf16: { t: raw('bf16', [2], [0x3f80, 0x4049]), values: [1, 3.140625] },
  i64: { t: raw('i64', [3], [-(2 ** 53) + 1, -1, 2 ** 53 - 1]), values: [-(2 ** 53) + 1, -1, 2 ** 53 - 1] },
  i32: { t: raw('i32', [2], [-2147483648, 2147483647]), values: [-2147483648, 2147483647] },
  i16: { t: raw('i16', [3], [-32768, 32767, 7]), values: [-32768, 32767, 7] },
  i8: { t: raw('i8', [2], [-128, 127]), values: [-128, 127] },
  u8: { t: raw('u8', [1, 3], [0, 255, 7]), values: [0, 255, 7] },
  bool: { t: raw('bool', [3], [1, 0, 1]), values: [1, 0, 1] },
  scalar: { t: raw('f32', [], [42]), values: [42] },
  empty: { t: raw('f32', [0, 4], []), values: [] },
};

test('round trip of every dtype keeps exact bytes, values, shapes and order', () =>
  withTempDir((dir) => {
    const path = join(dir, 'all.safetensors');
    writeSafetensors(path, Object.fromEntries(Object.entries(ALL).map(([k, v]) => [k, v.t])), { format: 'pt', note: 'ünïcode' });
    const back = readSafetensors(path);
    assert.deepEqual([...back.keys()], Object.keys(ALL));
    for (const [name, { t, values }] of Object.entries(ALL)) {
      const got = back.get(name)!;
      assert.equal(got.dtype, t.dtype, name);
      assert.deepEqual(got.shape, t.shape, name);
      assert.deepEqual(got.data, t.data, name);
      assert.deepEqual(rawValues(got), values, name);
    }
    assert.deepEqual(readSafetensorsHeader(path).metadata, { format: 'pt', note: 'ünïcode' });
    assert.deepEqual(readdirSync(dir), ['all.safetensors'], 'no temporary file is left behind');
  }));

test('the written layout follows the spec: u64 length, space-padded JSON to 8 bytes, contiguous data', () =>
  withTempDir((dir) => {
    const path = join(dir, 'a.safetensors');
    writeSafetensors(path, new Map([['w', ALL.f16.t], ['b', ALL.i8.t]]));
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    assert.match(text, /^\{.*\} *$/);
    assert.deepEqual(JSON.parse(text), {
      w: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] },
      b: { dtype: 'I8', shape: [2], data_offsets: [8, 10] },
    });
    assert.equal(bytes.length, 8 + n + 10);
    assert.deepEqual(new Uint8Array(bytes.subarray(8 + n)), concat(ALL.f16.t.data, ALL.i8.t.data));
  }));

test('a partial read returns only the named tensors, in the order asked', () =>
  withTempDir((dir) => {
    const path = join(dir, 'a.safetensors');
    writeSafetensors(path, { a: ALL.f32.t, b: ALL.i64.t, c: ALL.bf16.t });
    const part = readSafetensors(path, { names: ['c', 'a'] });
    assert.deepEqual([...part.keys()], ['c', 'a']);
    assert.deepEqual(rawValues(part.get('c')!), [1, 3.140625]);
    assert.deepEqual(rawValues(part.get('a')!), [0.5, -3, 2 ** -149]);
    assert.throws(() => readSafetensors(path, { names: ['zz'] }), (e: Error) =>
      e.message.includes(path) && e.message.includes("no tensor 'zz'") && e.message.includes("3 tensors: 'a', 'b', 'c'"));
  }));

test('header-only and single-tensor reads of a 5 GB (sparse) file touch only what they need', () =>
  withTempDir((dir) => {
    const path = join(dir, 'big.safetensors');
    const big = 5 * 2 ** 30;
    const header = JSON.stringify({ small: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, big: { dtype: 'U8', shape: [big], data_offsets: [8, 8 + big] } });
    const headerBytes = new TextEncoder().encode(header.padEnd(Math.ceil(header.length / 8) * 8, ' '));
    const length = new Uint8Array(8);
    new DataView(length.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
    const fd = openSync(path, 'w');
    writeSync(fd, concat(length, headerBytes, raw('f32', [2], [1.25, -7]).data));
    ftruncateSync(fd, 8 + headerBytes.length + 8 + big);
    closeSync(fd);

    const before = process.memoryUsage().arrayBuffers;
    const h = readSafetensorsHeader(path);
    assert.deepEqual([...h.tensors.keys()], ['small', 'big']);
    assert.deepEqual(h.tensors.get('big'), { dtype: 'u8', shape: [big], dataOffsets: [8, 8 + big] });
    assert.equal(h.dataStart, 8 + headerBytes.length);
    assert.deepEqual(h.metadata, {});
    const small = readSafetensors(path, { names: ['small'] });
    assert.deepEqual(rawValues(small.get('small')!), [1.25, -7]);
    assert.ok(process.memoryUsage().arrayBuffers - before < 2 ** 24, 'nothing near the file size was allocated');
  }));

test('writing replaces an existing file atomically; a failed write leaves no temporary file', () =>
  withTempDir((dir) => {
    const path = join(dir, 'w.safetensors');
    writeSafetensors(path, { x: ALL.u8.t });
    writeSafetensors(path, { y: ALL.i16.t });
    assert.deepEqual([...readSafetensors(path).keys()], ['y']);

    const blocked = join(dir, 'is-a-dir.safetensors');
    mkdirSync(blocked);
    assert.throws(() => writeSafetensors(blocked, { x: ALL.u8.t }));
    assert.deepEqual(readdirSync(dir).sort(), ['is-a-dir.safetensors', 'w.safetensors']);
  }));

test('the writer rejects inconsistent tensors before creating anything', () =>
  withTempDir((dir) => {
    const path = join(dir, 'bad.safetensors');
    assert.throws(() => writeSafetensors(path, { x: { dtype: 'f32', shape: [2, 2], data: new Uint8Array(12) } }),
      /tensor 'x' has 12 bytes of data, but f32 x \[2,2\] needs 16/);
    assert.throws(() => writeSafetensors(path, { __metadata__: ALL.u8.t }), /'__metadata__' is reserved/);
    assert.throws(() => writeSafetensors(path, { x: { dtype: 'c64' as DType, shape: [1], data: new Uint8Array(8) } }), /unknown dtype 'c64'/);
    assert.throws(() => writeSafetensors(path, { x: ALL.u8.t }, { n: 3 as unknown as string }), /metadata 'n' must be a string/);
    assert.equal(existsSync(path), false);
  }));

/** A file with the given header text (padded) and data bytes; `length` overrides the length field. */
function corrupt(dir: string, header: string | object, data: Uint8Array | number = 0, length?: bigint): string {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const bytes = new TextEncoder().encode(text.padEnd(Math.ceil(text.length / 8) * 8, ' '));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, length ?? BigInt(bytes.length), true);
  const path = join(dir, 'corrupt.safetensors');
  writeFileSync(path, concat(len, bytes, typeof data === 'number' ? new Uint8Array(data) : data));
  return path;
}

test('corrupt files fail with errors naming the file, the tensor, expected and found', () =>
  withTempDir((dir) => {
    const f32 = (offsets: number[], shape = [2]) => ({ dtype: 'F32', shape, data_offsets: offsets });
    const cases: [string, () => string, RegExp][] = [
      ['too short', () => { const p = join(dir, 'short.safetensors'); writeFileSync(p, new Uint8Array(5)); return p; },
        /5 bytes is too short for a safetensors file/],
      ['header length past the end', () => corrupt(dir, { a: f32([0, 8]) }, 8, 1000n), /header length 1000 is larger than the file allows \(\d+ bytes follow the length field\)/],
      ['absurd header length', () => corrupt(dir, {}, 0, 2n ** 63n), /header length 9223372036854775808 is larger than the file allows/],
      ['invalid JSON', () => corrupt(dir, '{"a": {"dtype": "F32",'), /the header is not valid UTF-8 JSON/],
      ['invalid UTF-8', () => { const p = corrupt(dir, '{"\u00e9":1}'); const b = readFileSync(p); b[11] = 0xff; writeFileSync(p, b); return p; },
        /the header is not valid UTF-8 JSON/],
      ['not an object', () => corrupt(dir, '[1,2]'), /the header must be a JSON object, found an array/],
      ['entry not an object', () => corrupt(dir, { a: 5 }), /tensor 'a': expected \{dtype, shape, data_offsets\}, found a number/],
      ['unknown dtype', () => corrupt(dir, { a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1),
        /tensor 'a': unknown dtype "F8_E4M3" \(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL\)/],
      // names of Object.prototype's members are unknown dtypes too, not a lookup that succeeds
      ['dtype toString', () => corrupt(dir, { a: { dtype: 'toString', shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'a': unknown dtype "toString"/],
      ['dtype __proto__', () => corrupt(dir, '{"a": {"dtype": "__proto__", "shape": [1], "data_offsets": [0, 1]}}', 1), /tensor 'a': unknown dtype "__proto__"/],
      ['negative dimension', () => corrupt(dir, { a: f32([0, 8], [-2]) }, 8), /tensor 'a': shape must be a list of non-negative integers, found \[-2\]/],
      ['fractional dimension', () => corrupt(dir, { a: f32([0, 8], [1.5]) }, 8), /tensor 'a': shape must be a list of non-negative integers/],
      ['reversed offsets', () => corrupt(dir, { a: f32([8, 0]) }, 8), /tensor 'a': data_offsets must be \[begin, end\] with 0 <= begin <= end, found \[8,0\]/],
      ['size mismatch', () => corrupt(dir, { a: f32([0, 12]) }, 12), /tensor 'a': data_offsets \[0, 12\] hold 12 bytes, but F32 x \[2\] needs 8/],
      ['out of the buffer', () => corrupt(dir, { a: f32([0, 8]) }, 4), /tensor 'a': data_offsets \[0, 8\] run past the 4-byte data section/],
      ['overlap', () => corrupt(dir, { a: f32([0, 8]), b: f32([4, 12]) }, 12), /tensors 'a' and 'b' overlap: 'b' starts at byte 4, before byte 8/],
      ['gap', () => corrupt(dir, { a: f32([0, 8]), b: f32([12, 20]) }, 20), /bytes \[8, 12\) of the data section belong to no tensor \(the gap is before 'b'\)/],
      ['not starting at 0', () => corrupt(dir, { a: f32([4, 12]) }, 12), /bytes \[0, 4\) of the data section belong to no tensor/],
      ['trailing bytes', () => corrupt(dir, { a: f32([0, 8]) }, 16), /the data section is 16 bytes, but the tensors cover only the first 8/],
      ['bad metadata', () => corrupt(dir, { __metadata__: { epoch: 3 } }), /__metadata__: 'epoch' must be a string, found a number/],
    ];
    for (const [what, make, expected] of cases) {
      const path = make();
      for (const read of [() => readSafetensorsHeader(path), () => readSafetensors(path)]) {
        assert.throws(read, (e: Error) => {
          assert.ok(e.message.startsWith(`${path}: `), `${what}: names the file: ${e.message}`);
          assert.match(e.message, expected, what);
          return true;
        });
      }
    }
  }));

test('every safetensors file of the shared fixtures reads, F16 weights and F32 inputs/outputs', (t) => {
  if (!existsSync(SHARED_FIXTURES)) {
    t.skip(`no shared fixtures at ${SHARED_FIXTURES}`);
    return;
  }
  const files = readdirSync(SHARED_FIXTURES)
    .filter((d) => statSync(join(SHARED_FIXTURES, d)).isDirectory())
    .flatMap((d) => readdirSync(join(SHARED_FIXTURES, d)).filter((f) => f.endsWith('.safetensors')).map((f) => join(SHARED_FIXTURES, d, f)));
  assert.ok(files.length >= 20, `found ${files.length} files`);
  for (const file of files) {
    const tensors = readSafetensors(file);
    // An independent reading: the whole file, sliced by the raw header's offsets.
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    assert.deepEqual([...tensors.keys()].sort(), Object.keys(header).sort(), file);
    const expectedDtype = file.split('/').pop()!.includes('weights') ? 'f16' : 'f32';
    for (const [name, e] of Object.entries(header)) {
      const got = tensors.get(name)!;
      assert.equal(got.dtype, expectedDtype, `${file} ${name}`);
      assert.deepEqual(got.shape, e.shape);
      assert.equal(got.data.length, numel(e.shape) * ITEM_SIZE[got.dtype]);
      assert.deepEqual(got.data, new Uint8Array(bytes.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1])), `${file} ${name}`);
    }
  }
  assert.equal(readSafetensorsHeader(join(SHARED_FIXTURES, 'unet_svd_tiny', 'weights.safetensors')).tensors.size, 1424);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteReader } from '../../src/torch/serialization/byte-reader.ts';
import { PickleCallable, unpickle, type UnpickleOptions } from '../../src/torch/serialization/pickle.ts';
import { bytesSource } from '../../src/torch/serialization/random-access-file.ts';
import { concat, op } from './helpers.ts';

const refuseAll: UnpickleOptions = {
  resolveGlobal: (module, name) => {
    throw new Error(`refused ${module}.${name}`);
  },
};

function load(bytes: Uint8Array | number[], opts = refuseAll): unknown {
  return unpickle(new ByteReader(bytesSource(concat(bytes))), opts);
}

test('scalars: ints of every width, longs, floats, None and bools', () => {
  const long1 = (...b: number[]) => [0x8a, b.length, ...b];
  const cases: [number[] | Uint8Array, unknown][] = [
    [concat(op.int(-5), op.stop), -5],
    [[0x4b, 0xff, 0x2e], 255],
    [[0x4d, 0xff, 0xff, 0x2e], 65535],
    [[...long1(), 0x2e], 0],
    [[...long1(0xff), 0x2e], -1],
    [[...long1(0x00, 0x80), 0x2e], -32768],
    [[...long1(0x00, 0x80, 0x00), 0x2e], 32768],
    [[...long1(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), 0x2e], 2n ** 63n - 1n],
    [[...long1(0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80), 0x2e], -(2n ** 63n) + 10n],
    [[0x8b, 2, 0, 0, 0, 0x01, 0x01, 0x2e], 257],
    [[0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x2e], 1.5],
    [[0x4e, 0x2e], null],
    [[0x88, 0x2e], true],
    [[0x89, 0x2e], false],
  ];
  for (const [bytes, value] of cases) assert.equal(load(bytes), value);
});

test('strings and bytes', () => {
  assert.equal(load(concat(op.str('conv.weight'), op.stop)), 'conv.weight');
  assert.equal(load([0x8c, 2, 0xc3, 0xa9, 0x2e]), 'é');
  assert.equal(load([0x8d, 1, 0, 0, 0, 0, 0, 0, 0, 0x41, 0x2e]), 'A');
  assert.equal(load([0x55, 3, 0x61, 0x62, 0x63, 0x2e]), 'abc');
  assert.deepEqual(load([0x43, 3, 1, 2, 3, 0x2e]), new Uint8Array([1, 2, 3]));
});

test('containers: tuples, lists, dicts, sets, and the memo keeps identity', () => {
  assert.deepEqual(load(concat(op.mark, op.int(1), op.int(2), op.int(3), op.int(4), op.tuple, op.stop)), [1, 2, 3, 4]);
  const t3 = load(concat(op.int(1), op.int(2), op.int(3), [0x87], op.stop)) as number[];
  assert.deepEqual(t3, [1, 2, 3]);
  assert.ok(Object.isFrozen(t3), 'tuples are frozen');
  assert.deepEqual(load(concat(op.emptyList, op.mark, op.int(7), op.int(8), op.appends, op.int(9), [0x61], op.stop)), [7, 8, 9]);
  assert.deepEqual(load(concat(op.mark, op.str('a'), op.int(1), [0x64], op.stop)), new Map([['a', 1]]));
  assert.deepEqual(load(concat([0x8f], op.mark, op.int(1), op.int(2), [0x90], op.stop)), new Set([1, 2]));
  // [x, x] where x is one list stored in the memo: both elements are the same object.
  const shared = load(concat(op.emptyList, op.mark, op.emptyList, op.binput(0), op.binget(0), op.appends, op.stop)) as unknown[][];
  assert.equal(shared[0], shared[1]);
  // MEMOIZE numbers entries in order; FRAME is skipped.
  assert.equal(load(concat(op.proto(4), [0x95, 3, 0, 0, 0, 0, 0, 0, 0], op.str('x'), [0x94], [0x30], [0x68, 0], op.stop)), 'x');
});

test('a reader is left just past STOP, so pickles can follow one another', () => {
  const reader = new ByteReader(bytesSource(concat(op.int(1), op.stop, op.str('two'), op.stop)));
  assert.equal(unpickle(reader, refuseAll), 1);
  assert.equal(reader.position, 6);
  assert.equal(unpickle(reader, refuseAll), 'two');
  assert.equal(reader.remaining, 0);
});

test('REDUCE applies only callables the resolver handed out', () => {
  const calls: unknown[][] = [];
  const opts: UnpickleOptions = {
    resolveGlobal: (module, name) => (module === 'm' && name === 'f' ? new PickleCallable('m.f', (args) => (calls.push([...args]), 'ok')) : 42),
  };
  assert.equal(load(concat(op.global('m', 'f'), op.int(1), op.tuple1, op.reduce, op.stop), opts), 'ok');
  assert.deepEqual(calls, [[1]]);
  assert.throws(() => load(concat(op.global('m', 'g'), op.emptyTuple, op.reduce, op.stop), opts), /cannot apply int: only allowed globals are callable/);
  assert.throws(() => load(concat(op.global('os', 'system'), op.stop)), { message: 'refused os.system' });
});

test('malformed pickles fail with the opcode and its position', () => {
  const cases: [number[] | Uint8Array, RegExp][] = [
    [op.int(1), /unexpected end of data/],
    [[0x69, 0x2e], /pickle opcode 0x69 'i' at byte 0: unsupported opcode/],
    [[0x80, 6, 0x2e], /opcode 0x80 at byte 0: unsupported pickle protocol 6/],
    [[0x2e], /the stack is empty/],
    [[0x74], /no MARK to pop to/],
    [concat(op.emptyTuple, op.int(1), [0x61], op.stop), /expected a list on the stack, found tuple/],
    [concat(op.emptyDict, op.int(1), [0x61], op.stop), /expected a list on the stack, found dict/],
    [[0x68, 3, 0x2e], /memo entry 3 was never stored/],
    [concat(op.mark, op.int(1), [0x64], op.stop), /expected key\/value pairs, found 1 items/],
    [[0x58, 0xff, 0xff, 0xff, 0x7f, 0x2e], /wanted 2147483647 bytes at offset 5, 1 left/],
    [[0x8b, 0xff, 0xff, 0xff, 0xff, 0x2e], /invalid length -1/],
    [concat(op.int(1), op.binpersid, op.stop), /a persistent id was found, but this pickle may not have any/],
    [concat(op.int(1), op.none, [0x62], op.stop), /cannot set the state of int/],
    [[0x63, ...new Array(2000).fill(0x61)], /text line at offset 1 is longer than 1024 bytes/],
  ];
  for (const [bytes, expected] of cases) assert.throws(() => load(bytes), expected);
});

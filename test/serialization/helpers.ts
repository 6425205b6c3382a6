// Shared helpers for the serialization tests: scratch folders, decoding raw tensors to numbers, and
// hand-assembly of pickles and zip archives (so hostile and unusual files can be built byte by byte).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { numel, type RawTensor } from '../../src/torch/dtype.ts';
import { bf16ToNumber, f16ToNumber } from '../../src/torch/half.ts';
import { bytesSource } from '../../src/torch/serialization/random-access-file.ts';
import { ZipArchive } from '../../src/torch/serialization/zip.ts';

export const FIXTURE_DIR = join(import.meta.dirname, '..', 'fixtures', 'pth_state_dict');
/** The team's shared fixtures next to the repository (absent in a user's fresh clone). */
export const SHARED_FIXTURES = join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures');

export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'sa-serialization-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The tensor's elements as JS numbers (bool as 0/1, i64 through Number). */
export function rawValues(t: RawTensor): number[] {
  const { buffer, byteOffset, byteLength } = t.data;
  const dv = new DataView(buffer, byteOffset, byteLength);
  const n = numel(t.shape);
  const read: Record<RawTensor['dtype'], (i: number) => number> = {
    f64: (i) => dv.getFloat64(8 * i, true),
    f32: (i) => dv.getFloat32(4 * i, true),
    f16: (i) => f16ToNumber(dv.getUint16(2 * i, true)),
    bf16: (i) => bf16ToNumber(dv.getUint16(2 * i, true)),
    i64: (i) => Number(dv.getBigInt64(8 * i, true)),
    i32: (i) => dv.getInt32(4 * i, true),
    i16: (i) => dv.getInt16(2 * i, true),
    i8: (i) => dv.getInt8(i),
    u8: (i) => dv.getUint8(i),
    bool: (i) => dv.getUint8(i),
  };
  return Array.from({ length: n }, (_, i) => read[t.dtype](i));
}

export function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** Pickle opcodes for hand-assembled test pickles. */
export const op = {
  proto: (v: number) => [0x80, v],
  global: (module: string, name: string) => concat([0x63], ascii(`${module}\n${name}\n`)),
  str: (s: string) => {
    const b = new TextEncoder().encode(s);
    return concat([0x58], u32(b.length), b);
  },
  int: (v: number) => concat([0x4a], i32(v)),
  mark: [0x28],
  tuple: [0x74],
  tuple1: [0x85],
  emptyTuple: [0x29],
  emptyDict: [0x7d],
  emptyList: [0x5d],
  setitem: [0x73],
  setitems: [0x75],
  appends: [0x65],
  reduce: [0x52],
  binpersid: [0x51],
  binput: (i: number) => [0x71, i],
  binget: (i: number) => [0x68, i],
  newfalse: [0x89],
  none: [0x4e],
  stop: [0x2e],
};

/** A pickled `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`, storage of f32. */
export function tensorPickle(key: string, numelInStorage: number, offset: number, size: number[], stride: number[]): Uint8Array {
  const ints = (xs: number[]) => concat(op.mark, ...xs.map(op.int), op.tuple);
  return concat(
    op.global('torch._utils', '_rebuild_tensor_v2'),
    op.mark,
    op.mark, op.str('storage'), op.global('torch', 'FloatStorage'), op.str(key), op.str('cpu'), op.int(numelInStorage), op.tuple,
    op.binpersid,
    op.int(offset), ints(size), ints(stride), op.newfalse,
    op.global('collections', 'OrderedDict'), op.emptyTuple, op.reduce,
    op.tuple,
    op.reduce,
  );
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  crc?: number;
}

/**
 * A zip archive, optionally deflated entries and zip64 records (sizes and offsets moved to zip64 extra
 * fields, as writers do past 4 GB). CRC-32s as zip writers record them (`crc` overrides, to damage one).
 */
export function buildZip(entries: ZipInput[], opts: { zip64?: boolean } = {}): Uint8Array {
  const zip64 = opts.zip64 ?? false;
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const method = e.deflate ? 8 : 0;
    const crc = e.crc ?? crc32(e.data) >>> 0;
    const local = concat(u32(0x04034b50), u16(20), u16(0), u16(method), u32(0), u32(crc), u32(body.length), u32(e.data.length),
      u16(name.length), u16(0), name, body);
    const big = (v: number) => (zip64 ? u32(0xffffffff) : u32(v));
    const extra = zip64 ? concat(u16(1), u16(24), u64(e.data.length), u64(body.length), u64(offset)) : new Uint8Array(0);
    centrals.push(concat(u32(0x02014b50), u16(45), u16(45), u16(0), u16(method), u32(0), u32(crc), big(body.length), big(e.data.length),
      u16(name.length), u16(extra.length), u16(0), u16(0), u16(0), u32(0), big(offset), name, extra));
    locals.push(local);
    offset += local.length;
  }
  const cd = concat(...centrals);
  const tail = zip64
    ? concat(
      u32(0x06064b50), u64(44), u16(45), u16(45), u32(0), u32(0), u64(entries.length), u64(entries.length), u64(cd.length), u64(offset),
      u32(0x07064b50), u32(0), u64(offset + cd.length), u32(1),
      u32(0x06054b50), u16(0), u16(0), u16(0xffff), u16(0xffff), u32(0xffffffff), u32(0xffffffff), u16(0))
    : concat(u32(0x06054b50), u16(0), u16(0), u16(entries.length), u16(entries.length), u32(cd.length), u32(offset), u16(0));
  return concat(...locals, cd, tail);
}

/** The records of the torch-written fixture zip, to re-pack in other ways. */
export function fixtureRecords(): ZipInput[] {
  const zip = ZipArchive.open(bytesSource(readFileSync(join(FIXTURE_DIR, 'state_dict.pth'))));
  return [...zip.entries.values()].map((e) => ({ name: e.name, data: zip.read(e) }));
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function u16(v: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, v, true);
  return b;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function i32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

function u64(v: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}

// The safetensors format: an 8-byte little-endian header length, a JSON header
// ({name: {dtype, shape, data_offsets}, __metadata__?}), then the tensors' raw little-endian bytes.
// Reads go tensor by tensor at their offsets, so a multi-GB file is never held in memory at once;
// every header field is validated before it is trusted.

import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { ITEM_SIZE, type DType, type RawTensor } from '../dtype.ts';
import { RandomAccessFile } from './random-access-file.ts';

// Without a prototype: a header's dtype "toString" or "__proto__" must be an unknown dtype, not Object's.
const DTYPE_OF_NAME: Record<string, DType> = Object.assign(Object.create(null) as Record<string, DType>, {
  F64: 'f64', F32: 'f32', F16: 'f16', BF16: 'bf16', I64: 'i64', I32: 'i32', I16: 'i16', I8: 'i8', U8: 'u8', BOOL: 'bool',
});
const NAME_OF_DTYPE = Object.fromEntries(Object.entries(DTYPE_OF_NAME).map(([k, v]) => [v, k])) as Record<DType, string>;

// The reference implementation refuses larger headers; a bigger length field means a damaged file.
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

export interface SafetensorsEntry {
  dtype: DType;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data section (as written in the file). */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Tensors in file order (by data offset). */
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Absolute file offset of the data section: 8 + the header length. */
  dataStart: number;
}

/** Reads and validates only the header: the 8-byte length and the JSON it announces. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  return RandomAccessFile.with(path, parseHeader);
}

/** Reads all tensors, or only `names`, each with its own positioned read. */
export function readSafetensors(path: string, opts: { names?: readonly string[] } = {}): Map<string, RawTensor> {
  return RandomAccessFile.with(path, (file) => {
    const header = parseHeader(file);
    const out = new Map<string, RawTensor>();
    for (const name of opts.names ?? header.tensors.keys()) {
      const entry = header.tensors.get(name);
      if (!entry) throw new Error(`${path}: no tensor '${name}' in the file (it has ${listNames([...header.tensors.keys()])})`);
      const [begin, end] = entry.dataOffsets;
      out.set(name, { dtype: entry.dtype, shape: [...entry.shape], data: file.read(header.dataStart + begin, end - begin) });
    }
    return out;
  });
}

/**
 * Writes tensors in the given order, streaming each one to disk. The header is space-padded to a multiple
 * of 8 bytes so the data section is aligned; the file appears under `path` only once complete.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): void {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`writeSafetensors ${path}: metadata '${k}' must be a string, got ${typeof v}`);
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === METADATA_KEY) throw new Error(`writeSafetensors ${path}: '${METADATA_KEY}' is reserved and cannot name a tensor`);
    const dtypeName = NAME_OF_DTYPE[t.dtype];
    if (!dtypeName) throw new Error(`writeSafetensors ${path}: tensor '${name}' has unknown dtype '${t.dtype}'`);
    if (!t.shape.every(isSize)) throw new Error(`writeSafetensors ${path}: tensor '${name}' has invalid shape [${t.shape}]`);
    const nbytes = byteSize(t.dtype, t.shape);
    if (t.data.length !== nbytes) {
      throw new Error(`writeSafetensors ${path}: tensor '${name}' has ${t.data.length} bytes of data, but ${t.dtype} x [${t.shape}] needs ${nbytes}`);
    }
    header[name] = { dtype: dtypeName, shape: t.shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(padded.length), true);

  const temp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(temp, 'w');
    try {
      writeAll(fd, length);
      writeAll(fd, padded);
      for (const [, t] of entries) writeAll(fd, t.data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

function parseHeader(file: RandomAccessFile): SafetensorsHeader {
  const fail = (msg: string) => new Error(`${file.path}: ${msg}`);
  if (file.size < 8) throw fail(`${file.size} bytes is too short for a safetensors file (the header length alone takes 8)`);
  const length = new DataView(file.read(0, 8).buffer).getBigUint64(0, true);
  if (length > BigInt(file.size - 8)) {
    throw fail(`header length ${length} is larger than the file allows (${file.size - 8} bytes follow the length field)`);
  }
  if (length > MAX_HEADER_BYTES) throw fail(`header length ${length} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const dataStart = 8 + Number(length);
  const dataSize = file.size - dataStart;

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.read(8, dataStart - 8)));
  } catch (err) {
    throw fail(`the header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  if (!isRecord(json)) throw fail(`the header must be a JSON object, found ${describeJson(json)}`);

  let metadata: Record<string, string> = {};
  const named: [string, SafetensorsEntry][] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, fail);
    else named.push([name, parseEntry(name, value, dataSize, fail)]);
  }

  // The data section must be tiled exactly: sorted by offset, each tensor starts where the previous ended.
  named.sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let covered = 0;
  let previous = '';
  for (const [name, { dataOffsets: [begin, end] }] of named) {
    if (begin < covered) throw fail(`tensors '${previous}' and '${name}' overlap: '${name}' starts at byte ${begin}, before byte ${covered}`);
    if (begin > covered) throw fail(`bytes [${covered}, ${begin}) of the data section belong to no tensor (the gap is before '${name}')`);
    covered = end;
    previous = name;
  }
  if (covered !== dataSize) throw fail(`the data section is ${dataSize} bytes, but the tensors cover only the first ${covered}`);
  return { tensors: new Map(named), metadata, dataStart };
}

function parseEntry(name: string, value: unknown, dataSize: number, fail: (msg: string) => Error): SafetensorsEntry {
  if (!isRecord(value)) throw fail(`tensor '${name}': expected {dtype, shape, data_offsets}, found ${describeJson(value)}`);
  const { dtype: dtypeName, shape, data_offsets: offsets } = value;
  const dtype = typeof dtypeName === 'string' && Object.hasOwn(DTYPE_OF_NAME, dtypeName) ? DTYPE_OF_NAME[dtypeName] : undefined;
  if (!dtype) {
    throw fail(`tensor '${name}': unknown dtype ${JSON.stringify(dtypeName)} (supported: ${Object.keys(DTYPE_OF_NAME).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isSize)) {
    throw fail(`tensor '${name}': shape must be a list of non-negative integers, found ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize) || offsets[0] > offsets[1]) {
    throw fail(`tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end, found ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataSize) throw fail(`tensor '${name}': data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data section`);
  const needed = byteSize(dtype, shape);
  if (end - begin !== needed) {
    throw fail(`tensor '${name}': data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtypeName} x [${shape}] needs ${needed}`);
  }
  return { dtype, shape, dataOffsets: [begin, end] };
}

function parseMetadata(value: unknown, fail: (msg: string) => Error): Record<string, string> {
  if (!isRecord(value)) throw fail(`${METADATA_KEY} must be an object of strings, found ${describeJson(value)}`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw fail(`${METADATA_KEY}: '${k}' must be a string, found ${describeJson(v)}`);
  }
  return value as Record<string, string>;
}

/** numel x item size; Infinity once it passes the safe-integer range (a shape no file can hold). */
function byteSize(dtype: DType, shape: readonly number[]): number {
  const n = shape.includes(0) ? 0 : shape.reduce((a, b) => a * b, ITEM_SIZE[dtype]);
  return Number.isSafeInteger(n) ? n : Infinity;
}

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeJson(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  return v === null ? 'null' : `a ${typeof v}`;
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 8).map((n) => `'${n}'`).join(', ');
  return `${names.length} tensors${names.length ? `: ${shown}${names.length > 8 ? ', ...' : ''}` : ''}`;
}

function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, Math.min(data.length - done, 1 << 30));
}

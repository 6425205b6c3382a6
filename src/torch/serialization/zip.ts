// A minimal zip reader for torch.save archives: the central directory (zip64 included, for checkpoints over
// 4 GB), then entries read one at a time from their offsets. torch stores entries uncompressed; deflate is
// accepted too, in case a tool re-packed the archive.

import { crc32, inflateRawSync } from 'node:zlib';
import type { ByteSource } from './random-access-file.ts';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** CRC-32 of the uncompressed bytes, from the central directory. */
  crc32: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const ZIP64_EXTRA_ID = 0x0001;
const STORED = 0;
const DEFLATED = 8;
// Deflate cannot expand data by more than about 1032:1, so a larger claimed size is a corrupt (or hostile) entry.
const MAX_DEFLATE_RATIO = 1032;

/** True when the source starts like a zip archive ("PK\3\4"). */
export function looksLikeZip(source: ByteSource): boolean {
  return source.size >= 4 && view(source.read(0, 4)).getUint32(0, true) === LOCAL_SIGNATURE;
}

export class ZipArchive {
  private constructor(
    private readonly source: ByteSource,
    readonly entries: Map<string, ZipEntry>,
  ) {}

  static open(source: ByteSource): ZipArchive {
    const { count, cdOffset, cdSize } = findCentralDirectory(source);
    if (count * 46 > cdSize) throw new Error(`zip: the central directory claims ${count} entries but is only ${cdSize} bytes`);
    const cd = source.read(cdOffset, cdSize);
    const dv = view(cd);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || dv.getUint32(p, true) !== CENTRAL_SIGNATURE) throw new Error(`zip: central directory entry ${i} is damaged`);
      const nameLength = dv.getUint16(p + 28, true);
      const extraLength = dv.getUint16(p + 30, true);
      const commentLength = dv.getUint16(p + 32, true);
      const end = p + 46 + nameLength + extraLength + commentLength;
      if (end > cd.length) throw new Error(`zip: central directory entry ${i} runs past the directory`);
      const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLength));
      const entry: ZipEntry = {
        name,
        method: dv.getUint16(p + 10, true),
        compressedSize: dv.getUint32(p + 20, true),
        size: dv.getUint32(p + 24, true),
        localHeaderOffset: dv.getUint32(p + 42, true),
        crc32: dv.getUint32(p + 16, true),
      };
      applyZip64Extra(entry, cd.subarray(p + 46 + nameLength, p + 46 + nameLength + extraLength));
      if (entry.localHeaderOffset + entry.compressedSize > source.size) {
        throw new Error(`zip: entry '${name}' (${entry.compressedSize} bytes at ${entry.localHeaderOffset}) lies outside the ${source.size}-byte file`);
      }
      entries.set(name, entry);
      p = end;
    }
    return new ZipArchive(source, entries);
  }

  /**
   * The entry's uncompressed bytes, checked against their CRC-32 (a flipped bit in a stored tensor would
   * otherwise load as a wrong value); `maxBytes` caps the size whatever the compression ratio.
   */
  read(entry: ZipEntry, maxBytes = Infinity): Uint8Array {
    if (entry.size > maxBytes) throw new Error(`zip: entry '${entry.name}' is ${entry.size} bytes uncompressed, above the limit of ${maxBytes} for it`);
    const data = this.readData(entry);
    const crc = crc32(data) >>> 0;
    if (crc !== entry.crc32) {
      throw new Error(`zip: entry '${entry.name}' fails its CRC-32 check (recorded ${hex(entry.crc32)}, computed ${hex(crc)}): the file is damaged`);
    }
    return data;
  }

  private readData(entry: ZipEntry): Uint8Array {
    const local = this.source.read(entry.localHeaderOffset, 30);
    const dv = view(local);
    if (dv.getUint32(0, true) !== LOCAL_SIGNATURE) throw new Error(`zip: entry '${entry.name}' has no local header at byte ${entry.localHeaderOffset}`);
    if (dv.getUint16(6, true) & 1) throw new Error(`zip: entry '${entry.name}' is encrypted`);
    // The local header's own name and extra lengths (torch pads the extra field to align the data).
    const dataStart = entry.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
    const data = this.source.read(dataStart, entry.compressedSize);
    if (entry.method === STORED) {
      if (entry.size !== entry.compressedSize) throw new Error(`zip: stored entry '${entry.name}' has size ${entry.size} but ${entry.compressedSize} stored bytes`);
      return data;
    }
    if (entry.method === DEFLATED) {
      if (entry.size > Math.max(entry.compressedSize, 1) * MAX_DEFLATE_RATIO) {
        throw new Error(`zip: entry '${entry.name}' claims ${entry.size} bytes from ${entry.compressedSize} compressed, more than deflate can produce`);
      }
      let out: Uint8Array;
      try {
        out = inflateRawSync(data, { maxOutputLength: Math.max(entry.size, 1) });
      } catch (err) {
        throw new Error(`zip: entry '${entry.name}' does not inflate: ${(err as Error).message}`);
      }
      if (out.length !== entry.size) throw new Error(`zip: entry '${entry.name}' inflates to ${out.length} bytes, not ${entry.size}`);
      return out;
    }
    throw new Error(`zip: entry '${entry.name}' uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`);
  }
}

const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;

function findCentralDirectory(source: ByteSource): { count: number; cdOffset: number; cdSize: number } {
  // The end record is 22 bytes plus a comment of at most 65535 bytes, at the very end of the file.
  const tailStart = Math.max(0, source.size - 22 - 0xffff);
  const tail = source.read(tailStart, source.size - tailStart);
  const dv = view(tail);
  let at = -1;
  for (let p = tail.length - 22; p >= 0; p--) {
    if (dv.getUint32(p, true) === EOCD_SIGNATURE && p + 22 + dv.getUint16(p + 20, true) <= tail.length) {
      at = p;
      break;
    }
  }
  if (at < 0) throw new Error('zip: no end-of-central-directory record (not a zip archive, or truncated)');
  let count = dv.getUint16(at + 10, true);
  let cdSize = dv.getUint32(at + 12, true);
  let cdOffset = dv.getUint32(at + 16, true);

  // Zip64: a locator just before the end record points at a record with 64-bit counts and offsets.
  if (at >= 20 && dv.getUint32(at - 20, true) === ZIP64_LOCATOR_SIGNATURE) {
    const recordOffset = readU64(dv, at - 20 + 8, 'zip64 end record offset');
    const record = view(source.read(recordOffset, 56));
    if (record.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) throw new Error(`zip: no zip64 end record at byte ${recordOffset}`);
    count = readU64(record, 32, 'zip64 entry count');
    cdSize = readU64(record, 40, 'zip64 central directory size');
    cdOffset = readU64(record, 48, 'zip64 central directory offset');
  }
  if (cdOffset + cdSize > source.size) {
    throw new Error(`zip: the central directory (${cdSize} bytes at ${cdOffset}) lies outside the ${source.size}-byte file`);
  }
  return { count, cdOffset, cdSize };
}

/** Replaces 0xFFFFFFFF size/offset fields with their 64-bit values from the zip64 extra field. */
function applyZip64Extra(entry: ZipEntry, extra: Uint8Array): void {
  const fields = (['size', 'compressedSize', 'localHeaderOffset'] as const).filter((f) => entry[f] === 0xffffffff);
  if (fields.length === 0) return;
  const dv = view(extra);
  for (let p = 0; p + 4 <= extra.length; p += 4 + dv.getUint16(p + 2, true)) {
    if (dv.getUint16(p, true) !== ZIP64_EXTRA_ID) continue;
    const size = dv.getUint16(p + 2, true);
    if (fields.length * 8 > size || p + 4 + size > extra.length) break;
    fields.forEach((f, i) => (entry[f] = readU64(dv, p + 4 + 8 * i, `zip64 ${f} of '${entry.name}'`)));
    return;
  }
  throw new Error(`zip: entry '${entry.name}' needs a zip64 extra field for its ${fields.join(', ')}, and has none`);
}

function readU64(dv: DataView, offset: number, what: string): number {
  const v = dv.getBigUint64(offset, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`zip: ${what} ${v} is out of range`);
  return Number(v);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

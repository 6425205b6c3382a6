// Positioned reads from a file that may be far larger than memory (a 6 GB unet.pth): callers read only
// the byte ranges they need, and every range is checked against the file size before anything is allocated.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Something that can hand out byte ranges: a file on disk, or bytes already in memory. */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes from `offset`; throws when the range is not inside the source. */
  read(offset: number, length: number): Uint8Array;
}

// Node's readSync takes at most 2 GiB per call.
const MAX_READ = 1 << 30;

export class RandomAccessFile implements ByteSource {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly size: number,
  ) {}

  static open(path: string): RandomAccessFile {
    const fd = openSync(path, 'r');
    try {
      return new RandomAccessFile(path, fd, fstatSync(fd).size);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Opens `path`, runs `fn`, and closes the file whatever happens. */
  static with<T>(path: string, fn: (file: RandomAccessFile) => T): T {
    const file = RandomAccessFile.open(path);
    try {
      return fn(file);
    } finally {
      file.close();
    }
  }

  read(offset: number, length: number): Uint8Array {
    checkRange(offset, length, this.size, 'file');
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, Math.min(length - done, MAX_READ), offset + done);
      if (n === 0) throw new Error(`file ended at byte ${offset + done} while reading ${length} bytes at ${offset} (did it shrink?)`);
      done += n;
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A ByteSource over bytes in memory; reads are views, not copies. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(offset, length) {
      checkRange(offset, length, bytes.length, 'buffer');
      return bytes.subarray(offset, offset + length);
    },
  };
}

function checkRange(offset: number, length: number, size: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new Error(`read of ${length} bytes at offset ${offset} is outside the ${size}-byte ${what}`);
  }
}

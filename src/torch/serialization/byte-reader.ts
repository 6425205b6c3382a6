// Sequential reads over a ByteSource through a small window, for the unpickler: the legacy .pth format
// keeps its pickles at the front of a file whose storages may be gigabytes long.

import type { ByteSource } from './random-access-file.ts';

const WINDOW = 1 << 16;
// Pickle text lines hold a module or attribute name; a longer line means damaged data.
const MAX_LINE = 1024;

export class ByteReader {
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;

  constructor(
    private readonly source: ByteSource,
    public position = 0,
  ) {}

  get remaining(): number {
    return this.source.size - this.position;
  }

  byte(): number {
    return this.bytes(1)[0];
  }

  /** The next `n` bytes; a view that stays valid only until the next read. */
  bytes(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.remaining) {
      throw new Error(`unexpected end of data: wanted ${n} bytes at offset ${this.position}, ${this.remaining} left`);
    }
    const at = this.position - this.windowStart;
    this.position += n;
    if (at >= 0 && at + n <= this.window.length) return this.window.subarray(at, at + n);
    if (n >= WINDOW) return this.source.read(this.position - n, n);
    this.windowStart = this.position - n;
    this.window = this.source.read(this.windowStart, Math.min(WINDOW, this.source.size - this.windowStart));
    return this.window.subarray(0, n);
  }

  /** Bytes up to the next '\n' (consumed, not returned), as latin-1 text. */
  line(): string {
    const start = this.position;
    let text = '';
    for (let c = this.byte(); c !== 0x0a; c = this.byte()) {
      if (text.length === MAX_LINE) throw new Error(`text line at offset ${start} is longer than ${MAX_LINE} bytes`);
      text += String.fromCharCode(c);
    }
    return text;
  }
}

// A synchronous PNG encoder (RGB/RGBA, 8 bits, no filtering): for code that cannot yield to the event loop, such as
// a live preview sent from inside the synchronous denoising loop (sharp, used everywhere else, is asynchronous).
// PNG: signature, IHDR, one zlib IDAT of rows each prefixed by filter type 0, IEND; chunks carry a CRC-32.
import { crc32, deflateSync } from 'node:zlib';
import type { Image } from './image.ts';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export function encodePngSync(image: Image): Buffer {
  const { width, height, channels, data } = image;
  if (channels !== 3 && channels !== 4) throw new Error(`encodePngSync: expected 3 or 4 channels, got ${channels}`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = channels === 3 ? 2 : 6;
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// Inputs that would cost gigabytes are refused from their headers, with the file, the limit and the found
// value in the message (issue 18).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import { readImage } from '../../src/io/image.ts';
import { checkOutputPath } from '../../src/io/atomic.ts';
import { readPoseFile } from '../../src/pose/keypoint-json.ts';
import { main } from '../../src/cli/main.ts';

const dir = mkdtempSync(join(tmpdir(), 'limits-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A valid PNG header of width x height with a few bytes of pixel data: tiny on disk, huge when decoded. */
function pngHeader(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(16))), chunk('IEND', Buffer.alloc(0))]);
}

test('a 16000x16000 PNG is refused from its header, naming the file, the size and the limit', async () => {
  const path = join(dir, 'huge.png');
  writeFileSync(path, pngHeader(16000, 16000));
  const t0 = performance.now();
  await assert.rejects(readImage(path), /image .*huge\.png: 16000x16000 is 256\.0 megapixels, above the limit of 67\.1 \(set STABLE_ANIMATOR_MAX_PIXELS to raise it\)/);
  assert.ok(performance.now() - t0 < 5000, 'refused without decoding');
});

test('a keypoint file whose "size" is [1e9, 1e9] is refused at read, before anything is drawn', async () => {
  const path = join(dir, 'huge-size.json');
  writeFileSync(path, JSON.stringify({ format: 'stable-animator-keypoints/1', size: [1e9, 1e9], frames: [{ persons: [] }] }));
  await assert.rejects(readPoseFile(path), /huge-size\.json.*size.*expected at most 8192 pixels a side, found \[1000000000, 1000000000\]/);
  const errors: string[] = [];
  const orig = console.error;
  console.error = (m: string) => errors.push(m);
  try {
    assert.equal(await main(['poses', 'render', path, '-o', join(dir, 'out')]), 1);
    const small = join(dir, 'small.json');
    writeFileSync(small, JSON.stringify({ format: 'stable-animator-keypoints/1', size: [64, 64], frames: [{ persons: [] }] }));
    assert.equal(await main(['poses', 'render', small, '-o', join(dir, 'out'), '--size', '64000x64000']), 1);
  } finally {
    console.error = orig;
  }
  assert.match(errors.join('\n'), /expected at most 8192 pixels a side/);
  assert.match(errors.join('\n'), /--size: 64000x64000 exceeds the limit of 8192 pixels a side/);
});

test('checkOutputPath: a folder where a file goes, a file where a folder goes, or under a file', () => {
  writeFileSync(join(dir, 'file'), 'x');
  assert.throws(() => checkOutputPath(dir, 'file'), /is a folder, expected a file name/);
  assert.throws(() => checkOutputPath(join(dir, 'file'), 'folder'), /is a file, expected a folder/);
  assert.throws(() => checkOutputPath(join(dir, 'file', 'deeper', 'out.mp4'), 'file'), /file is a file, so no folder can be made there/);
  checkOutputPath(join(dir, 'new', 'nested', 'out.mp4'), 'file');
  checkOutputPath(join(dir, 'frames'), 'folder');
});

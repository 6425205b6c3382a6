import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fitSize, readImage, resizeImage, writeImage } from '../../src/io/image.ts';
import { gradientImage, maxAbsDiff, meanAbsDiff, solidImage, withTempDir } from './helpers.ts';

test('png round trip is exact for RGB and RGBA', () =>
  withTempDir(async (dir) => {
    const rgb = gradientImage(37, 21, 3);
    await writeImage(join(dir, 'rgb.png'), rgb);
    const back = await readImage(join(dir, 'rgb.png'));
    assert.deepEqual([back.width, back.height, back.channels], [37, 21, 3]);
    assert.deepEqual(back.data, rgb.data);

    const rgba = gradientImage(30, 10, 0, 4);
    await writeImage(join(dir, 'rgba.png'), rgba);
    const backA = await readImage(join(dir, 'rgba.png'));
    assert.equal(backA.channels, 4);
    assert.deepEqual(backA.data, rgba.data);
    // Forcing RGB drops the alpha channel and keeps the colours.
    const forced = await readImage(join(dir, 'rgba.png'), { channels: 3 });
    assert.equal(forced.channels, 3);
    assert.deepEqual(forced.data.subarray(0, 3), rgba.data.subarray(0, 3));
  }));

test('jpeg and webp round trips stay within codec tolerance', () =>
  withTempDir(async (dir) => {
    const img = gradientImage(64, 48);
    for (const name of ['a.jpg', 'a.webp']) {
      await writeImage(join(dir, name), img, { quality: 95 });
      const back = await readImage(join(dir, name));
      assert.deepEqual([back.width, back.height, back.channels], [64, 48, 3]);
      assert.ok(meanAbsDiff(back.data, img.data) < 2, `${name} mean error ${meanAbsDiff(back.data, img.data)}`);
      assert.ok(maxAbsDiff(back.data, img.data) < 16);
    }
  }));

test('writes are atomic: new folders are created, no temporary files remain, bad extensions write nothing', () =>
  withTempDir(async (dir) => {
    const nested = join(dir, 'a', 'b', 'x.png');
    await writeImage(nested, solidImage(4, 4, [1, 2, 3]));
    assert.deepEqual(await readdir(join(dir, 'a', 'b')), ['x.png']);
    await assert.rejects(writeImage(join(dir, 'x.bmp'), solidImage(2, 2, [0, 0, 0])), /x\.bmp.*unsupported extension/);
    assert.deepEqual(await readdir(dir), ['a']);
    await assert.rejects(writeImage(join(dir, 'y.png'), { width: 2, height: 2, channels: 3, data: new Uint8Array(5) }), /invalid image/);
    assert.deepEqual(await readdir(dir), ['a']);
  }));

test('missing and corrupt images give errors naming the file', () =>
  withTempDir(async (dir) => {
    await assert.rejects(readImage(join(dir, 'nope.png')), (err: Error) => err.message.includes('nope.png') && /not found/.test(err.message));
    const bad = join(dir, 'bad.png');
    await writeFile(bad, 'this is not a png');
    await assert.rejects(readImage(bad), (err: Error) => err.message.startsWith(`cannot read image ${bad}:`) && err.message.length > bad.length + 22);
  }));

test('grey images read as RGB', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'grey.png');
    const { default: sharp } = await import('sharp');
    await sharp(Buffer.from([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } }).png().toFile(path);
    const img = await readImage(path);
    assert.equal(img.channels, 3);
    assert.deepEqual([...img.data], [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
  }));

test('resizeImage keeps flat colours, sizes and fits', async () => {
  const flat = await resizeImage(solidImage(40, 30, [10, 120, 240]), 17, 9);
  assert.deepEqual([flat.width, flat.height, flat.channels], [17, 9, 3]);
  assert.ok(flat.data.every((v, i) => v === [10, 120, 240][i % 3]));
  const boxed = await resizeImage(solidImage(40, 10, [255, 255, 255]), 20, 20, { fit: 'contain', background: [0, 0, 0] });
  assert.deepEqual([boxed.data[0], boxed.data[(10 * 20 + 10) * 3]], [0, 255]); // letterbox corner, white middle
  assert.deepEqual(fitSize(1920, 1080, 1024, 1024, 64), [1024, 576]);
  assert.deepEqual(fitSize(426, 240, 512, 512, 2), [512, 288]);
});

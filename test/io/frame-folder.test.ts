import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { listFrameFiles, readFrameFolder, writeFrameFolder } from '../../src/io/frame-folder.ts';
import { writeImage, type Image } from '../../src/io/image.ts';
import { decodeFrames } from '../../src/io/video.ts';
import { solidImage, withTempDir } from './helpers.ts';

async function collect(frames: AsyncIterable<Image>): Promise<Image[]> {
  const out: Image[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

test('a folder of frames decodes in natural order', () =>
  withTempDir(async (dir) => {
    for (const i of [10, 2, 1, 0]) await writeImage(join(dir, `frame_${i}.png`), solidImage(8, 6, [i, 2 * i, 3 * i]));
    await writeFile(join(dir, 'notes.txt'), 'not a frame');
    const files = await listFrameFiles(dir);
    assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), [
      'frame_0.png', 'frame_1.png', 'frame_2.png', 'frame_10.png',
    ]);
    const frames = await collect(decodeFrames(dir, { maxFrames: 4 }));
    assert.deepEqual(frames.map((f) => f.data[0]), [0, 1, 2, 10]);
    const resized = await collect(readFrameFolder(dir, { width: 4, maxFrames: 1 }));
    assert.deepEqual([resized[0].width, resized[0].height, resized[0].data[2]], [4, 3, 0]);
  }));

test('frames of different sizes, and empty folders, are errors naming the files', () =>
  withTempDir(async (dir) => {
    await assert.rejects(listFrameFiles(join(dir, 'missing')), /missing: folder not found/);
    await assert.rejects(listFrameFiles(dir), /no frames in/);
    await writeImage(join(dir, 'a_1.png'), solidImage(8, 6, [0, 0, 0]));
    await writeImage(join(dir, 'a_2.png'), solidImage(6, 6, [0, 0, 0]));
    await assert.rejects(collect(readFrameFolder(dir)), /a_2\.png is 6x6, but the first frame is 8x6/);
    assert.equal((await collect(readFrameFolder(dir, { width: 8, height: 6 }))).length, 2);
  }));

test('writeFrameFolder: a rerun with fewer frames leaves no stale frames; a folder with other files is refused; dead temporaries are removed', async () => {
  const root = mkdtempSync(join(tmpdir(), 'frames-'));
  try {
    const img = (v: number) => ({ width: 2, height: 2, channels: 3 as const, data: new Uint8Array(12).fill(v) });
    const dir = join(root, 'out');
    await writeFrameFolder(dir, 10, (i) => img(i));
    assert.equal(readdirSync(dir).length, 10);
    await writeFrameFolder(dir, 2, (i) => img(100 + i));
    assert.deepEqual(readdirSync(dir).sort(), ['frame_0.png', 'frame_1.png'], 'the second run replaced the first whole');
    // a failing frame leaves the previous folder as it was and no temporary
    await assert.rejects(writeFrameFolder(dir, 3, (i) => { if (i === 2) throw new Error('boom'); return img(i); }), /boom/);
    assert.deepEqual(readdirSync(dir).sort(), ['frame_0.png', 'frame_1.png']);
    assert.deepEqual(readdirSync(root), ['out']);
    // a folder holding anything but frames is not replaced
    const mixed = join(root, 'mixed');
    mkdirSync(mixed);
    writeFileSync(join(mixed, 'notes.txt'), 'mine');
    await assert.rejects(writeFrameFolder(mixed, 1, () => img(0)), /mixed: the folder holds other files than frames \(notes\.txt\); choose an empty or new folder/);
    assert.ok(existsSync(join(mixed, 'notes.txt')));
    // the temporary folder of a killed run (a pid that does not exist) is removed by the next run
    const stale = join(root, '.out.tmp-999999999-abcd1234');
    mkdirSync(stale);
    writeFileSync(join(stale, 'frame_0.png'), 'partial');
    await writeFrameFolder(dir, 1, () => img(7));
    assert.ok(!existsSync(stale), 'stale temporary removed');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

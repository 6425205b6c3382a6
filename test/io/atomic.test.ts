import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { test } from 'node:test';
import { temporaryPathFor, writeAtomically, writeFileAtomic } from '../../src/io/atomic.ts';
import { withTempDir } from './helpers.ts';

test('temporary paths sit next to the target and keep its extension', () => {
  const temp = temporaryPathFor('/data/out/video.mp4');
  assert.equal(dirname(temp), '/data/out');
  assert.equal(extname(temp), '.mp4');
  assert.notEqual(temp, temporaryPathFor('/data/out/video.mp4'));
});

test('writeFileAtomic replaces the file in one step', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'a.json');
    await writeFileAtomic(path, '{"v":1}');
    await writeFileAtomic(path, '{"v":2}');
    assert.equal(await readFile(path, 'utf8'), '{"v":2}');
    assert.deepEqual(await readdir(dir), ['a.json']);
  }));

test('a failed write leaves neither the target nor the temporary file', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'out.bin');
    await assert.rejects(
      writeAtomically(path, async (temp) => {
        await writeFile(temp, 'partial');
        throw new Error('encoder crashed');
      }),
      /encoder crashed/,
    );
    assert.deepEqual(await readdir(dir), []);
  }));

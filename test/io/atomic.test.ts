import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

test('temporaries left by killed runs are removed by the next write of the same file; live ones are kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atomic-dead-'));
  try {
    writeFileSync(join(dir, '.out.tmp-999999999-abcd1234.mp4'), 'left by a kill');
    writeFileSync(temporaryPathFor(join(dir, 'out.mp4')), 'a write of this live process');
    writeFileSync(join(dir, '.other.tmp-999999999-abcd1234.mp4'), 'another file\'s');
    await writeFileAtomic(join(dir, 'out.mp4'), 'x');
    const names = readdirSync(dir).sort();
    assert.ok(!names.includes('.out.tmp-999999999-abcd1234.mp4'), names.join());
    assert.ok(names.includes('.other.tmp-999999999-abcd1234.mp4') && names.includes('out.mp4'));
    assert.equal(names.filter((n) => n.startsWith(`.out.tmp-${process.pid}-`)).length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// One writer per output folder (issue 18: two `align train` into one folder interleaved their checkpoints).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LOCK_FILE, lockFolder } from '../../src/io/lock.ts';

const root = mkdtempSync(join(tmpdir(), 'lock-'));
after(() => rmSync(root, { recursive: true, force: true }));
const LOCK_TS = new URL('../../src/io/lock.ts', import.meta.url).pathname;

test('a second writer is told which process holds the folder; the lock of a killed process is taken over', async () => {
  const dir = join(root, 'run');
  const child = spawn(process.execPath, ['--import', 'tsx', '-e',
    `import('${LOCK_TS}').then((m) => { m.lockFolder(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('locked')) resolve(); }));
  assert.throws(() => lockFolder(dir), new RegExp(`run: in use by process ${child.pid} \\(.*\\); wait for it, stop it, or write into another folder`));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  assert.ok(existsSync(join(dir, LOCK_FILE)), 'kill -9 leaves the lock file');
  const release = lockFolder(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  release();
  assert.ok(!existsSync(join(dir, LOCK_FILE)), 'released');
});

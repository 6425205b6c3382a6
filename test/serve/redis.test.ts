// The private Redis of `serve`: a redis-server left running by a serve killed with -9 is stopped before a new one
// starts on the same files, and the queue's data survives the change of server.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startRedis, type EmbeddedRedis } from '../../src/serve/redis.ts';

const dir = mkdtempSync(join(tmpdir(), 'serve-redis-'));
const started: EmbeddedRedis[] = [];
after(async () => {
  for (const r of started) await r.stop();
  rmSync(dir, { recursive: true, force: true });
});
const cli = (url: string, ...args: string[]) => execFileSync('redis-cli', ['-u', url, ...args], { encoding: 'utf8' }).trim();

test('a Redis left behind on the same files is stopped first; the data survives', async () => {
  const first = await startRedis(dir);
  started.push(first);
  assert.equal(cli(first.url, 'SET', 'job', 'kept'), 'OK');
  const pid = first.process.pid!;
  // the serve that owned it dies without stopping it: a new serve starts a Redis on the same folder
  const lines: string[] = [];
  const second = await startRedis(dir, { log: (l) => lines.push(l) });
  started.push(second);
  assert.match(lines.join('\n'), new RegExp(`stopping the Redis a previous serve left running \\(pid ${pid}\\)`));
  assert.ok(!existsSync(`/proc/${pid}`) || first.process.exitCode !== null || first.process.signalCode !== null, 'the old server exited');
  assert.notEqual(second.url, first.url);
  assert.equal(cli(second.url, 'GET', 'job'), 'kept');
});

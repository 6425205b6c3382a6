// Redis for the job queue (BullMQ): connection options from a URL, and the private redis-server that
// `stable-animator serve` starts when no --redis is given (persisting under its data folder, append-only file on,
// so a restart finds the queue as it was).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../util/free-port.ts';
import type { ConnectionOptions } from 'bullmq';

/** The queue every server and worker sharing a Redis uses. */
export const QUEUE_NAME = 'stable-animator';
/** Pub/sub channel on which the API asks workers to stop a running job. */
export const CANCEL_CHANNEL = 'stable-animator:cancel';

/** redis://[:password@]host[:port][/db] or unix:///path/to/socket -> ioredis options (as BullMQ requires). */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--redis must be a URL such as redis://127.0.0.1:6379, got '${url}'`);
  }
  const common = { maxRetriesPerRequest: null, password: u.password ? decodeURIComponent(u.password) : undefined };
  if (u.protocol === 'unix:') return { ...common, path: u.pathname };
  if (u.protocol !== 'redis:') throw new Error(`--redis must be redis://host:port or unix:///socket, got '${url}'`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`--redis ${url}: the database must be a number, got '${u.pathname.slice(1)}'`);
  return { ...common, host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : 6379, db, username: u.username || undefined };
}

export interface EmbeddedRedis {
  url: string;
  process: ChildProcess;
  /** Asks redis-server to save and exit (SIGTERM), and waits for it. */
  stop(): Promise<void>;
}

/** The pid file's redis-server, if it still runs: a serve killed with -9 leaves its private Redis behind. */
function leftoverRedis(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Stops a leftover redis-server (SIGTERM: it saves its append-only file and exits) and waits up to 10 s. */
async function stopLeftover(pid: number, log: (line: string) => void): Promise<void> {
  log(`stopping the Redis a previous serve left running (pid ${pid}) before starting this one on the same files`);
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; existsSync(`/proc/${pid}`); waited += 100) {
    if (waited >= 10000) throw new Error(`the Redis a previous serve left running (pid ${pid}) did not exit in 10 s; stop it and start again`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts `redis-server` on a free 127.0.0.1 port with its files in `dir`; resolves when it accepts connections.
 * A redis-server still running on the same files (its pid in dir/redis-server.pid) is stopped first: two servers
 * must never append to one file.
 */
export async function startRedis(dir: string, opts: { binary?: string; timeoutMs?: number; log?: (line: string) => void } = {}): Promise<EmbeddedRedis> {
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'redis-server.pid');
  const leftover = leftoverRedis(pidFile);
  if (leftover !== undefined) await stopLeftover(leftover, opts.log ?? ((line) => console.error(line)));
  rmSync(pidFile, { force: true });
  const port = await freePort();
  const binary = opts.binary ?? 'redis-server';
  const child = spawn(binary, [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '',
    '--daemonize', 'no', '--pidfile', pidFile, '--protected-mode', 'yes', '--maxmemory-policy', 'noeviction',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`redis-server did not start in ${(opts.timeoutMs ?? 15000) / 1000} s:\n${log}`)), opts.timeoutMs ?? 15000);
    const fail = (e: Error) => { clearTimeout(timer); child.kill('SIGKILL'); reject(e); };
    child.once('error', (e) => fail(new Error(`cannot start ${binary}: ${e.message} (install it: apt-get install redis-server, or give --redis URL)`)));
    const onExit = (code: number | null) => fail(new Error(`redis-server exited with code ${code}:\n${log}`));
    child.once('exit', onExit);
    const onData = (d: Buffer) => {
      log += d.toString();
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  });
  child.stdout!.resume();
  return {
    url: `redis://127.0.0.1:${port}`, process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

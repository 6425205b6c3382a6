// A real Redis, the API and worker processes for the serve tests, all under one temporary folder; `stop` kills
// every process started here and removes the folder, also after a failed test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobView } from '../../src/serve/jobs.ts';
import { startRedis, type EmbeddedRedis } from '../../src/serve/redis.ts';
import { startServer, type AnimationServer } from '../../src/serve/server.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const PHOTO = join(ROOT, 'test/eval/fixtures/camera_cc0_256.png');
export const LIMITS = { uploadBytes: 2e6, frames: 16, side: 256, steps: 8 };
import { BIN } from '../../src/serve/serve-process.ts';

export class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
  readonly data = join(this.dir, 'data');
  redis!: EmbeddedRedis;
  server!: AnimationServer;
  url = '';
  private readonly children = new Set<ChildProcess>();

  async start(opts: { token?: string } = {}): Promise<this> {
    this.redis = await startRedis(join(this.dir, 'redis'));
    this.server = await startServer({ redis: this.redis.url, dataDir: this.data, weights: { mini: join(ROOT, 'weights/mini') }, limits: LIMITS, token: opts.token });
    this.url = await this.server.app.listen({ port: 0, host: '127.0.0.1' });
    return this;
  }

  /** A worker process (its own process group, so that it and its animation process can be killed together). */
  worker(lockSeconds = 3, args: string[] = ['--data', this.data]): ChildProcess {
    const child = spawn(process.execPath, [BIN, 'worker', '--redis', this.redis.url, '--lock-seconds', String(lockSeconds), ...args], {
      detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, STABLE_ANIMATOR_THREADS: '1' },
    });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
    Object.defineProperty(child, 'log', { get: () => log });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Spawns any command as a tracked process (the serve restart test). */
  track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  async stop(): Promise<void> {
    for (const c of this.children) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        c.kill('SIGKILL');
      }
    }
    await this.server?.close().catch(() => undefined);
    await this.redis?.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  async fetch(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
    const res = await fetch(this.url + path, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: res.status, body };
  }

  async upload(file: Blob, name: string): Promise<{ status: number; body: any }> {
    const form = new FormData();
    form.append('file', file, name);
    return this.fetch('/api/uploads', { method: 'POST', body: form });
  }

  async submit(body: object, kind: 'jobs' | 'previews' = 'jobs'): Promise<{ status: number; body: any }> {
    return this.fetch(`/api/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /** Server-sent events of a job until the stream ends. */
  async events(id: string, onEvent: (event: string, data: any) => void = () => undefined): Promise<{ event: string; data: any }[]> {
    const res = await fetch(`${this.url}/api/jobs/${id}/events`);
    const out: { event: string; data: any }[] = [];
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += Buffer.from(chunk).toString();
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) {
          out.push({ event, data: JSON.parse(data) });
          onEvent(event, JSON.parse(data));
        }
      }
    }
    return out;
  }

  async waitFor(id: string, done: (v: JobView) => boolean, timeoutMs = 120000): Promise<JobView> {
    const t0 = Date.now();
    for (;;) {
      const { body } = await this.fetch(`/api/jobs/${id}`);
      if (done(body)) return body;
      if (Date.now() - t0 > timeoutMs) throw new Error(`job ${id}: timed out, last ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

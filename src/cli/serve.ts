// `stable-animator serve`: the web app and JSON API (src/serve/server.ts). With no --redis it is the whole app on
// one machine: a private redis-server persisting under --data and --workers local worker processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startRedis, type EmbeddedRedis } from '../serve/redis.ts';
import { startServer } from '../serve/server.ts';
import { parseNumber } from './args.ts';
import type { Command } from './main.ts';

const USAGE = `stable-animator serve [--port 7860] [--host 127.0.0.1] [--redis URL] [--data serve-data] [--workers 1]
      [--weights NAME=DIR ...] [--token TOKEN] [--device cpu|cuda:N] [--max-upload-mb 50] [--max-frames 120]
      [--max-side 1024] [--max-steps 50] [--lock-seconds 30] [--keep-days 7]

  --redis    a shared Redis for the queue (redis://host:6379); without it a private redis-server runs with its
             files in <data>/redis. Workers on other machines: stable-animator worker --redis URL --data <shared folder>
  --workers  local worker processes (default 1; 0 with a shared --redis and remote workers)
  --weights  weights folders offered to users, by name (default mini=weights/mini); the first is the default
  --token    every /api route then needs "Authorization: Bearer TOKEN" (or ?token=TOKEN); open the page as /?token=TOKEN
  --host     the address to listen on (default 127.0.0.1: this machine only)
  --keep-days finished jobs leave the queue, and job folders and uploads that no remaining job needs are deleted,
             this many days after (default 7; 0 keeps everything)`;

const OPTIONS = {
  port: { type: 'string', default: '7860' }, host: { type: 'string', default: '127.0.0.1' }, redis: { type: 'string' },
  data: { type: 'string', default: 'serve-data' }, workers: { type: 'string', default: '1' }, weights: { type: 'string', multiple: true },
  token: { type: 'string' }, device: { type: 'string' }, 'max-upload-mb': { type: 'string', default: '50' },
  'max-frames': { type: 'string', default: '120' }, 'max-side': { type: 'string', default: '1024' }, 'max-steps': { type: 'string', default: '50' },
  'lock-seconds': { type: 'string' }, 'keep-days': { type: 'string', default: '7' },
} as const;

function parseWeights(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? ['mini=weights/mini']) {
    const m = /^([\w.-]+)=(.+)$/.exec(item);
    if (!m) throw new Error(`--weights must be NAME=DIR, got '${item}'`);
    if (!existsSync(m[2]!)) throw new Error(`--weights ${item}: no folder ${m[2]}`);
    out[m[1]!] = resolve(m[2]!);
  }
  return out;
}

export const serve: Command = {
  summary: 'the web app and JSON API: upload, pose preview, live progress, results; jobs queued for workers',
  usage: USAGE,
  async run(args) {
    const { values } = parseArgs({ args, options: OPTIONS });
    const int = (name: keyof typeof OPTIONS, kind: 'posint' | 'count') => parseNumber(name, values[name] as string, kind);
    const dataDir = resolve(values.data!);
    const workers = int('workers', 'count');
    const limits = { uploadBytes: int('max-upload-mb', 'posint') * 1e6, frames: int('max-frames', 'posint'), side: int('max-side', 'posint'), steps: int('max-steps', 'posint') };
    const weights = parseWeights(values.weights);
    let redis: EmbeddedRedis | undefined;
    if (!values.redis) {
      redis = await startRedis(join(dataDir, 'redis'));
      console.error(`redis-server ${redis.process.pid} at ${redis.url} (files in ${join(dataDir, 'redis')})`);
    }
    const url = values.redis ?? redis!.url;
    const keepDays = parseNumber('keep-days', values['keep-days'], 'nonneg');
    const server = await startServer({ redis: url, dataDir, weights, limits, token: values.token, keepDays });
    const children = new Set<ChildProcess>();
    let stopping = false;
    const threads = process.env.STABLE_ANIMATOR_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / Math.max(1, workers))));
    const startLocalWorker = (k: number) => {
      const argv = [new URL('../../bin/stable-animator.js', import.meta.url).pathname, 'worker', '--redis', url, '--data', dataDir];
      if (values.device) argv.push('--device', values.device);
      if (values['lock-seconds']) argv.push('--lock-seconds', values['lock-seconds']);
      const child = spawn(process.execPath, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, STABLE_ANIMATOR_THREADS: threads } });
      // workers compute at a lower priority (nice 10, inherited by their animation process): the API and Redis
      // on the same cores keep answering (status p99 measured in bench/results/serve.json)
      if (child.pid) setPriority(child.pid, 10);
      children.add(child);
      child.once('exit', (code, signal) => {
        children.delete(child);
        if (stopping) return;
        console.error(`worker ${k} exited (${signal ?? `code ${code}`}); restarting it`);
        setTimeout(() => !stopping && startLocalWorker(k), 1000);
      });
    };
    for (let k = 0; k < workers; k++) startLocalWorker(k);
    const address = await server.app.listen({ port: int('port', 'count'), host: values.host });
    console.error(`stable-animator serve: ${address}/${values.token ? '?token=…' : ''} (API: ${address}/api/openapi.json; ${workers} local worker(s); data in ${dataDir})`);
    if (!values.redis) console.error(`more workers on this machine: stable-animator worker --redis ${url} --data ${dataDir}`);
    await new Promise<void>((done) => {
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        console.error('stopping: the queue stays in Redis; running jobs are taken up again after the restart');
        await server.close();
        await Promise.all([...children].map((c) => new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); })));
        await redis?.stop();
        done();
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
    return 0;
  },
};

// Load on `stable-animator serve` (issue 17): 50 jobs submitted at once against 2 local workers at toy sizes
// (the shipped miniature, 2 frames, 1 step). Checks that every job completes exactly once, times status requests
// (GET /api/jobs/:id, one at a time, all through the run) and samples the API process's resident memory.
//
//   npm run bench -- serve [--jobs 50] [--workers 2]     -> bench/results/serve.json
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../src/util/free-port.ts';
import { startServeProcess, type ServeProcess } from '../src/serve/serve-process.ts';
import { writeResult } from './timing.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { jobs: { type: 'string', default: '50' }, workers: { type: 'string', default: '2' } } });
  const [jobs, workers] = [Number(values.jobs), Number(values.workers)];
  const dir = mkdtempSync(join(tmpdir(), 'bench-serve-'));
  const port = await freePort();
  let serve: ServeProcess | undefined;
  try {
    serve = await startServeProcess(['--data', join(dir, 'data'), '--port', String(port), '--workers', String(workers)], { ...process.env, STABLE_ANIMATOR_THREADS: '1' });
    const { url, child } = serve;
    const json = async (path: string, init?: RequestInit) => (await fetch(url + path, init)).json() as Promise<any>;
    const form = new FormData();
    form.append('file', new Blob([readFileSync(join(ROOT, 'test/eval/fixtures/camera_cc0_256.png'))]), 'photo.png');
    const photo = (await json('/api/uploads', { method: 'POST', body: form })).id;
    const options = { frames: 2, steps: 1 };
    const rss: { t: number; mb: number }[] = [{ t: 0, mb: rssMb(child.pid!) }];
    const t0 = performance.now();
    const ids: string[] = (await Promise.all(Array.from({ length: jobs }, (_, k) => json('/api/jobs', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reference: photo, driving: { motion: 'ad_dab' }, options: { ...options, seed: k } }),
    })))).map((j) => j.id);
    const submitSeconds = (performance.now() - t0) / 1000;
    const latencies: number[] = [];
    const sampler = setInterval(() => rss.push({ t: (performance.now() - t0) / 1000, mb: rssMb(child.pid!) }), 1000);
    let remaining = new Set(ids);
    for (let k = 0; remaining.size > 0; k++) {
      const id = ids[k % ids.length]!;
      const s = performance.now();
      const view = await json(`/api/jobs/${id}`);
      latencies.push(performance.now() - s);
      if (view.status === 'done' || view.status === 'failed') remaining.delete(id);
      if ((performance.now() - t0) / 1000 > 1800) throw new Error(`timed out with ${remaining.size} jobs left`);
      await new Promise((r) => setTimeout(r, 10));
    }
    clearInterval(sampler);
    const seconds = (performance.now() - t0) / 1000;
    const views = await Promise.all(ids.map((id) => json(`/api/jobs/${id}`)));
    const completions = ids.map((id) => serve!.log().split(`job ${id} done`).length - 1);
    const outputs = readdirSync(join(dir, 'data', 'jobs')).length;
    latencies.sort((a, b) => a - b);
    const rssMbs = rss.map((r) => r.mb);
    const result = {
      format: 'stable-animator-bench-serve/1', date: new Date().toISOString(), jobs, workers, options, weights: 'weights/mini',
      load_average_1m: loadavg()[0],
      submit_seconds: submitSeconds, seconds, jobs_per_minute: (jobs * 60) / seconds,
      done: views.filter((v) => v.status === 'done').length, failed: views.filter((v) => v.status !== 'done').length,
      attempts_above_one: views.filter((v) => v.attempts !== 1).length,
      completed_more_than_once: completions.filter((c) => c > 1).length, never_completed: completions.filter((c) => c === 0).length,
      result_folders: outputs,
      status_requests: latencies.length,
      status_ms: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) },
      api_rss_mb: { before_submit: rssMbs[0], after_submit: rssMbs[1], max: Math.max(...rssMbs), last: rssMbs.at(-1), samples: rss.length },
    };
    console.log(JSON.stringify(result, null, 2));
    console.log(`wrote ${writeResult('serve', result)}`);
  } finally {
    if (serve) {
      process.kill(-serve.child.pid!, 'SIGTERM');
      await new Promise((r) => (serve!.child.exitCode !== null ? r(undefined) : serve!.child.once('exit', r)));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

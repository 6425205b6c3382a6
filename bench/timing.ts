// Shared timing and reporting for benchmarks.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Median milliseconds of fn over `reps` runs after `warmup` runs. */
export function timeMs(fn: () => void, reps: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const resultPath = (name: string) => join(dirname(fileURLToPath(import.meta.url)), 'results', `${name}.json`);

export function writeResult(name: string, data: unknown): string {
  const path = resultPath(name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, JSON.stringify(data, null, 2) + '\n');
  renameSync(`${path}.tmp`, path);
  return path;
}

export function printTable(rows: Record<string, string | number>[]): void {
  const cols = Object.keys(rows[0]);
  const fmt = (v: string | number) => (typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4)) : v);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(fmt(r[c])).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(width[i])).join('  ');
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => String(fmt(r[c])))));
}

/**
 * Cases run one at a time accumulate: the rows of other cases already in bench/results/<name>.json are
 * kept, the new ones replace theirs, all ordered as `order`.
 */
export function mergeRows<R>(name: string, rows: R[], key: (r: R) => string, order: string[]): R[] {
  const path = resultPath(name);
  const previous = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { rows?: R[] }).rows ?? [] : [];
  const fresh = new Set(rows.map(key));
  return [...previous.filter((p) => !fresh.has(key(p))), ...rows].sort((a, b) => order.indexOf(key(a)) - order.indexOf(key(b)));
}

/**
 * Runs `run(['--case=<name>', ...args])` of a benchmark module in a fresh process (so that its peak RSS is its own)
 * and parses the last line it prints as JSON.
 */
export function runCaseProcess<T>(moduleUrl: string, name: string, args: string[]): T {
  // the case runs the module directly (not through run.ts)
  const entry = `const m = await import(${JSON.stringify(moduleUrl)}); await m.run(process.argv.slice(1));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', entry, '--', `--case=${name}`, ...args],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`case ${name} failed (status ${r.status}, signal ${r.signal})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

// Runs every test/**/*.test.ts with node's test runner (Node 20 does not expand globs itself), one test file
// per core at a time, each with one libtorch thread: libtorch's OpenMP regions wait for all their threads, so
// files running side by side with a thread per core each are oversubscribed and measured 10x slower.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'fixtures' ? [] : find(p);
    return p.endsWith('.test.ts') ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = find('test').sort().filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${availableParallelism()}`, ...files], {
  stdio: 'inherit',
  env: { ...process.env, STABLE_ANIMATOR_THREADS: process.env.STABLE_ANIMATOR_THREADS ?? '1' },
});
process.exit(r.status ?? 1);

// `npm run fuzz -- --seconds N [--seed S]`: the checkpoint loaders under seeded random damage for N seconds
// (test/serialization/fuzz-harness.ts): counts of loaded and refused mutants per format, and every contract
// violation. Writes bench/results/fuzz.json; exits 1 on a violation.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/io/atomic.ts';
import { parseNumber } from '../src/cli/args.ts';
import { runFuzz } from '../test/serialization/fuzz-harness.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, seed: { type: 'string', default: '20240611' } } });
const seconds = parseNumber('seconds', values.seconds, 'posint');
const seed = parseNumber('seed', values.seed, 'count');
const dir = mkdtempSync(join(tmpdir(), 'fuzz-'));
try {
  const r = runFuzz(dir, { seconds, seed });
  for (const [name, o] of Object.entries(r.outcomes)) console.log(`${name.padEnd(20)} ${String(o.loaded).padStart(7)} loaded  ${String(o.refused).padStart(7)} refused`);
  console.log(`${r.mutations} mutations in ${seconds} s (seed ${seed}), slowest load ${r.slowestMs.toFixed(1)} ms, ${r.violations.length} violation(s)`);
  for (const v of r.violations.slice(0, 20)) console.log(`violation: ${v}`);
  await writeFileAtomic('bench/results/fuzz.json', `${JSON.stringify({ seconds, seed, ...r, violations: r.violations.slice(0, 100) }, null, 2)}\n`);
  process.exitCode = r.violations.length ? 1 : 0;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Seeded random damage to real checkpoint files (fuzz-harness.ts): 2,000 mutations, every load sane or refused
// with an error naming the file. `npm run fuzz -- --seconds N` runs longer campaigns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFuzz } from './fuzz-harness.ts';
import { withTempDir } from './helpers.ts';

const MUTATIONS = 2000;

test(`${MUTATIONS} random mutations: each load returns sane tensors or throws an Error naming the file`, { timeout: 60_000 }, () =>
  withTempDir((dir) => {
    const r = runFuzz(dir, { mutations: MUTATIONS });
    assert.equal(r.mutations, MUTATIONS);
    assert.deepEqual(r.violations, []);
    assert.ok(r.slowestMs < 1000, `slowest load took ${r.slowestMs.toFixed(0)} ms`);
    // The mutations must exercise both outcomes for every format, or the test proves little.
    for (const [name, { loaded, refused }] of Object.entries(r.outcomes)) {
      assert.ok(loaded > 20 && refused > 20, `${name}: ${loaded} loaded, ${refused} refused`);
    }
  }));

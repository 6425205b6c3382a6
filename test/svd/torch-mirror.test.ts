// The Python side of the svd benchmark (bench/svd_unet_torch.py) must compute what diffusers computes, or
// the speed comparison means nothing: it loads the unet_svd_tiny fixture and matches the reference's
// output. Needs Debian's python3-torch (the benchmark's own requirement); skipped without it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES } from '../fixture.ts';

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;

test('bench/svd_unet_torch.py reproduces the diffusers UNet fixture', { skip: hasTorch ? false : `${PYTHON} has no torch (apt-get install python3-torch)` }, () => {
  const r = spawnSync(PYTHON, ['bench/svd_unet_torch.py', '--check', join(FIXTURES, 'unet_svd_tiny'), '--threads', '1'], { encoding: 'utf8' });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr || last}`);
  const result = JSON.parse(last) as { parameters: number; max_rel_err: number };
  assert.equal(result.parameters, 2010058);
  assert.ok(result.max_rel_err <= 1e-4, `max relative error ${result.max_rel_err}`);
});

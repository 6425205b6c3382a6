// Tensor handles (native/handle.h): numbers naming slots of the addon's table. A disposed handle stays disposed
// when its slot is reused (generations), a number that was never a handle is refused as such, and a Tensor that
// becomes garbage without dispose() frees its slot through the FinalizationRegistry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as torch from '../../src/torch/index.ts';
import { native, type Handle } from '../../src/torch/native.ts';

test('a disposed handle stays disposed after its slot is reused, and never reads the new tensor', () => {
  const a = torch.tensor([1, 2, 3]);
  const old = a.h;
  a.dispose();
  a.dispose(); // idempotent
  native.dispose(old); // a stale handle is ignored
  const b = torch.tensor([7, 8]); // the freed slot is the first reused
  assert.notEqual(b.h, old);
  assert.throws(() => native.meta(old), /meta: tensor was disposed/);
  assert.deepEqual(b.toArray(), [7, 8], 'the stale dispose did not free the new tensor');
  assert.throws(() => torch.add(b, torch.wrap(old)), /tensor was disposed/);
  b.dispose();
});

test('numbers that were never handles are refused as "expected a tensor"', () => {
  for (const v of [0, 1, 3.5, -4, 2 ** 24 - 1, Number.NaN, '1', undefined]) {
    assert.throws(() => native.meta(v as unknown as Handle), /meta: expected a tensor/, String(v));
  }
  // the message names what was found instead
  assert.throws(() => native.meta(3.5 as unknown as Handle), /^TypeError: meta: expected a tensor handle, found number 3\.5$/);
  assert.throws(() => native.meta('1' as unknown as Handle), /found string$/);
  assert.throws(() => native.meta(undefined as unknown as Handle), /found undefined$/);
  // a handle-shaped number beyond the table's slots was never handed out
  assert.throws(() => native.meta((2 ** 25 - 1) as unknown as Handle), /expected a tensor handle, found number/);
});

test('a Tensor dropped without dispose() frees its native slot once collected', async () => {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  await settle();
  const before = torch.liveTensors();
  (() => { for (let i = 0; i < 1000; i++) torch.ones([4]).add(1); })();
  assert.ok(torch.liveTensors() >= before + 1000, `${torch.liveTensors()} live after making 2000 tensors`);
  await settle();
  assert.equal(torch.liveTensors(), before);
});

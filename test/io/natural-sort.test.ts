import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareNatural, sortNatural } from '../../src/io/natural-sort.ts';

test('numbers inside names sort by value', () => {
  assert.deepEqual(sortNatural(['frame_10.png', 'frame_2.png', 'frame_1.png', 'frame_0.png']), [
    'frame_0.png', 'frame_1.png', 'frame_2.png', 'frame_10.png',
  ]);
  assert.deepEqual(sortNatural(['b2', 'a10', 'a9', 'b10', 'a']), ['a', 'a9', 'a10', 'b2', 'b10']);
});

test('leading zeros and very long numbers keep a total order', () => {
  assert.deepEqual(sortNatural(['f_010', 'f_9', 'f_0010', 'f_10']), ['f_9', 'f_10', 'f_010', 'f_0010']);
  assert.ok(compareNatural('x123456789012345678901', 'x123456789012345678900') > 0);
  assert.equal(compareNatural('same_1.png', 'same_1.png'), 0);
});

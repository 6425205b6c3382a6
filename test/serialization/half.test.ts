import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bf16ToNumber, f16ToNumber } from '../../src/torch/half.ts';

test('f16 bit patterns decode to their IEEE binary16 values', () => {
  const cases: [number, number][] = [
    [0x0000, 0], [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x7bff, 65504],
    [0x0400, 2 ** -14], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x7c00, Infinity], [0xfc00, -Infinity],
  ];
  for (const [bits, value] of cases) assert.equal(f16ToNumber(bits), value, `0x${bits.toString(16)}`);
  assert.ok(Object.is(f16ToNumber(0x8000), -0));
  assert.ok(Number.isNaN(f16ToNumber(0x7e00)));
});

test('bf16 bit patterns decode to the f32 they truncate', () => {
  const cases: [number, number][] = [
    [0x0000, 0], [0x3f80, 1], [0xc000, -2], [0x4049, 3.140625], [0x7f7f, 3.3895313892515355e38],
    [0x0001, 2 ** -133], [0x7f80, Infinity], [0xff80, -Infinity],
  ];
  for (const [bits, value] of cases) assert.equal(bf16ToNumber(bits), value, `0x${bits.toString(16)}`);
  assert.ok(Number.isNaN(bf16ToNumber(0x7fc0)));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';

test('countFlops counts matrix ops from their shapes', () => {
  const a = torch.ones([2, 3, 4]), b = torch.ones([4, 5]);
  assert.equal(torch.countFlops(() => torch.matmul(a, b)).flops, 2 * 2 * 3 * 5 * 4);
  assert.equal(torch.countFlops(() => torch.linear(a, torch.ones([7, 4]))).flops, 2 * 6 * 7 * 4);
  const x = torch.ones([1, 3, 8, 8]), w = torch.ones([16, 3, 3, 3]);
  assert.equal(torch.countFlops(() => torch.conv2d(x, w, undefined, 1, 1)).flops, 2 * 16 * 8 * 8 * 27);
  const { result, flops } = torch.countFlops(() => a.add(1).bmm(torch.ones([2, 4, 6])));
  assert.deepEqual(result.shape, [2, 3, 6]);
  assert.equal(flops, 2 * 2 * 3 * 6 * 4, 'elementwise ops are not counted');
  assert.equal(torch.countFlops(() => a.add(1)).flops, 0);
});

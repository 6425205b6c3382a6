// The unboxed path of add/sub/mul/div (native/dispatch.cc callBinary): the same results, promotion, autograd and
// error messages as the boxed path that every other call (an alpha, a wrong argument) still takes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';

const close = (t: torch.Tensor, want: number[]) => t.toArray().forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `${i}: ${v} vs ${want[i]}`));

test('add/sub/mul/div of two tensors and of a tensor and a number give the boxed path\'s values and dtypes', () => {
  torch.scope(() => {
    const a = torch.tensor([1, 2, 3], { dtype: 'f32' }), b = torch.tensor([4, 5, 6], { dtype: 'f32' });
    close(torch.add(a, b), [5, 7, 9]);
    close(torch.add(a, b, 1), [5, 7, 9]); // alpha given: the boxed path
    close(torch.add(a, b, 2), [9, 12, 15]);
    close(torch.sub(a, b), [-3, -3, -3]);
    close(torch.mul(a, b), [4, 10, 18]);
    close(torch.div(a, b), [0.25, 0.4, 0.5]);
    close(a.add(0.5), [1.5, 2.5, 3.5]);
    close(a.sub(1), [0, 1, 2]);
    close(a.mul(-2), [-2, -4, -6]);
    close(a.div(4), [0.25, 0.5, 0.75]);
    // promotion as PyTorch: a number does not promote a tensor, an f32 tensor promotes an integer one
    const i = torch.tensor([1, 2, 3], { dtype: 'i64' });
    assert.equal(i.mul(2).dtype, 'i64');
    assert.equal(i.mul(2.5).dtype, 'f32');
    close(i.mul(2.5), [2.5, 5, 7.5]);
    assert.equal(torch.add(i, a).dtype, 'f32');
    assert.equal(a.to('bf16').mul(3).dtype, 'bf16');
    assert.equal(i.div(2).dtype, 'f32'); // true division
    assert.equal(torch.mul(i, torch.tensor([1, 0, 1], { dtype: 'bool' })).dtype, 'i64');
    // broadcasting
    assert.deepEqual(torch.add(torch.ones([2, 1]), torch.ones([3])).shape, [2, 3]);
  });
});

test('gradients flow through the unboxed calls', () => {
  torch.scope(() => {
    const a = torch.tensor([1, 2], { dtype: 'f32' }).requiresGrad_(), b = torch.tensor([3, 5], { dtype: 'f32' }).requiresGrad_();
    // y = sum(a*b + a/b - b*2)
    torch.add(torch.mul(a, b), torch.div(a, b)).sub(torch.mul(b, 2)).sum().backward();
    close(a.grad!, [3 + 1 / 3, 5 + 1 / 5]);
    close(b.grad!, [1 - 1 / 9 - 2, 2 - 2 / 25 - 2]);
  });
});

test('errors of the unboxed calls name the operator and the tensors, as the boxed ones do', () => {
  torch.scope(() => {
    const a = torch.ones([2]), b = torch.ones([3]);
    assert.throws(() => torch.add(a, b), /^Error: aten::add\.Tensor\(f32\[2\], f32\[3\], _\): The size of tensor a \(2\) must match/);
    assert.throws(() => torch.mul(a, b), /aten::mul\.Tensor\(f32\[2\], f32\[3\]\)/);
    const h = torch.ones([2]);
    const stale = h.h;
    h.dispose();
    assert.throws(() => torch.add(a, torch.wrap(stale)), /tensor was disposed/);
    assert.throws(() => torch.mul(torch.wrap(stale), 2), /tensor was disposed/);
  });
});

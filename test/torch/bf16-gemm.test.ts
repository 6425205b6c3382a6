// bf16 GEMMs/convolutions computed in f32 on CPUs that only emulate bf16: same values as libtorch's own
// bf16 kernels (up to bf16 rounding of the output), bf16 results, gradients, and CPU autocast.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as generated from '../../src/torch/generated/ops.ts';

const g = new torch.Generator(7);
const maxAbs = (t: torch.Tensor) => t.to('f32').abs().max().item();
/** max |a - b| relative to max |b|, both read as f32 */
const rel = (a: torch.Tensor, b: torch.Tensor) => maxAbs(a.to('f32').sub(b.to('f32'))) / maxAbs(b);

test('linear, matmul, bmm, baddbmm, addmm, conv1d/2d/3d, conv_transpose2d in bf16 equal libtorch\'s bf16 kernels to bf16 rounding', () => {
  torch.noGrad(() => {
    const b = (shape: number[]) => torch.randn(shape, g).to('bf16');
    const x = b([3, 5, 16]), w = b([8, 16]), bias = b([8]);
    const m1 = b([4, 6, 16]), m2 = b([4, 16, 5]), s = b([4, 6, 5]);
    const a2 = b([6, 16]), c2 = b([16, 5]), s2 = b([6, 5]);
    const i1 = b([2, 4, 12]), w1 = b([6, 4, 3]);
    const i2 = b([2, 4, 9, 9]), w2 = b([6, 4, 3, 3]), bb = b([6]);
    const i3 = b([1, 4, 3, 6, 6]), w3 = b([6, 4, 3, 3, 3]);
    const wt = b([4, 6, 3, 3]);
    const cases: [string, torch.Tensor, torch.Tensor][] = [
      ['linear', torch.linear(x, w, bias), generated.linear(x, w, bias)],
      ['matmul', torch.matmul(m1, m2), generated.matmul(m1, m2)],
      ['bmm', torch.bmm(m1, m2), generated.bmm(m1, m2)],
      ['baddbmm', torch.baddbmm(s, m1, m2, 0.5, 2), generated.baddbmm(s, m1, m2, 0.5, 2)],
      ['mm', torch.mm(a2, c2), generated.mm(a2, c2)],
      ['addmm', torch.addmm(s2, a2, c2), generated.addmm(s2, a2, c2)],
      ['conv1d', torch.conv1d(i1, w1, undefined, 1, 1), generated.conv1d(i1, w1, undefined, 1, 1)],
      ['conv2d', torch.conv2d(i2, w2, bb, 2, 1), generated.conv2d(i2, w2, bb, 2, 1)],
      ['conv3d', torch.conv3d(i3, w3, bb, 1, [1, 1, 1]), generated.conv3d(i3, w3, bb, 1, [1, 1, 1])],
      // libtorch has no bf16 conv_transpose2d on CPU: the reference is f32 rounded to bf16
      ['conv_transpose2d', torch.convTranspose2d(i2, wt, bb, 2, 1, 1), generated.convTranspose2d(i2.to('f32'), wt.to('f32'), bb.to('f32'), 2, 1, 1).to('bf16')],
    ];
    for (const [name, ours, theirs] of cases) {
      assert.equal(ours.dtype, 'bf16', `${name} dtype`);
      assert.deepEqual(ours.shape, theirs.shape, `${name} shape`);
      // a few bf16 roundings (libtorch's baddbmm rounds the product before adding): <= 2^-6 of max
      assert.ok(rel(ours, theirs) <= 2 ** -6, `${name}: ${rel(ours, theirs)}`);
      assert.ok(maxAbs(ours) > 0.5, `${name} is not trivially zero`);
    }
  });
});

test('gradients flow to bf16 weights and inputs and match the f32 computation', () => {
  const x32 = torch.randn([4, 16], g), w32 = torch.randn([8, 16], g);
  const x = x32.to('bf16').requiresGrad_(true), w = w32.to('bf16').requiresGrad_(true);
  torch.linear(x, w).square().sum().backward();
  assert.equal(w.grad!.dtype, 'bf16');
  assert.equal(x.grad!.dtype, 'bf16');
  const xr = x.detach().to('f32').requiresGrad_(true), wr = w.detach().to('f32').requiresGrad_(true);
  torch.linear(xr, wr).square().sum().backward();
  assert.ok(rel(w.grad!, wr.grad!) < 2e-2, `dL/dw ${rel(w.grad!, wr.grad!)}`);
  assert.ok(rel(x.grad!, xr.grad!) < 2e-2, `dL/dx ${rel(x.grad!, xr.grad!)}`);
});

test('CPU autocast to bf16: f32 inputs give bf16 outputs close to f32, and autocast is restored', () => {
  torch.noGrad(() => {
    const x = torch.randn([6, 32], g), w = torch.randn([16, 32], g);
    const ref = torch.linear(x, w);
    const [out, after] = torch.autocast('bf16', () => {
      const o = torch.linear(x, w);
      return [o, torch.linear(x, w).dtype] as const;
    });
    assert.equal(out.dtype, 'bf16');
    assert.equal(after, 'bf16', 'autocast still active after a wrapped op');
    assert.ok(rel(out, ref) < 2 ** -6, `autocast linear ${rel(out, ref)}`);
    assert.equal(torch.linear(x, w).dtype, 'f32', 'autocast ended');
  });
});

test('mixed f32/bf16 arguments are not silently promoted', () => {
  torch.noGrad(() => {
    const a = torch.randn([2, 3], g), b = torch.randn([3, 2], g).to('bf16');
    assert.throws(() => torch.mm(a, b), /dtype|type|expected/i);
  });
});

// Every differentiable op family: autograd against central differences, in f64.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';

const g = new torch.Generator(123);
const r = (...shape: number[]) => torch.randn(shape, g, 'f64');
const pos = (...shape: number[]) => torch.rand(shape, g, 'f64').add(0.5);

const cases: [string, (...xs: Tensor[]) => Tensor, Tensor[]][] = [
  ['add/sub/mul/div', (a, b) => a.add(b).mul(a).sub(b.div(a.add(3))), [pos(3), r(3)]],
  ['pow/exp/log/sqrt/rsqrt', (a) => a.pow(3).add(a.exp()).add(a.log()).add(a.sqrt()).add(a.rsqrt()), [pos(4)]],
  ['sin/cos/tanh/sigmoid/erf', (a) => a.sin().add(a.cos()).add(a.tanh()).add(a.sigmoid()).add(a.erf()), [r(4)]],
  ['reductions sum/mean/var/std/amax/logsumexp', (a) => torch.stack([a.sum(), a.mean(), a.var(undefined, 1), a.std([1], 1).sum(), a.amax([1]).sum(), a.logsumexp([1]).sum()]), [r(2, 3)]],
  ['norm', (a) => a.norm(2, [1]), [r(2, 3)]],
  ['matmul/bmm/baddbmm/einsum/linear', (a, b) => a.matmul(b).add(torch.einsum('bij,bjk->bik', [a, b])).add(torch.ones([2, 2, 2], 'f64').baddbmm(a, b, 0.5, 2)).add(torch.linear(a, b.select(0, 0).transpose(0, 1))), [r(2, 2, 3), r(2, 3, 2)]],
  ['shape ops', (a) => torch.cat([a.transpose(0, 1).reshape([6]), a.flip([0]).flatten(), a.narrow(1, 1, 2).flatten(), a.repeat([2, 1]).flatten(), a.permute([1, 0]).contiguous().flatten(), a.roll([1], [1]).flatten(), a.expand([2, 2, 3]).flatten()], 0), [r(2, 3)]],
  ['indexing gather/index_select/where/masked_fill', (a) => torch.cat([a.gather(1, torch.tensor([[0, 2], [1, 1]], { dtype: 'i64' })).flatten(), a.indexSelect(1, torch.tensor([2, 0], { dtype: 'i64' })).flatten(), torch.where(a.gt(0), a, a.mul(2)).flatten(), a.maskedFill(a.lt(0), 0).flatten()], 0), [r(2, 3)]],
  ['conv1d/conv2d/conv3d', (x, w) => torch.conv2d(x, w, undefined, 1, 1).sum([1]).flatten().add(torch.conv1d(x.select(2, 0), w.select(2, 0)).sum()).add(torch.conv3d(x.unsqueeze(2), w.unsqueeze(2), undefined, 1, [0, 1, 1]).sum()), [r(1, 2, 3, 3), r(2, 2, 3, 3)]],
  ['conv_transpose2d', (x, w) => torch.convTranspose2d(x, w, undefined, 2, 1), [r(1, 2, 3, 3), r(2, 1, 3, 3)]],
  ['group_norm/layer_norm', (x, w) => torch.groupNorm(x, 2, w, w.mul(0.5)).add(torch.layerNorm(x, [3], w.narrow(0, 0, 3))), [r(2, 4, 3), r(4)]],
  ['batch_norm (training)', (x, w) => torch.batchNorm(x, w, w, undefined, undefined, true, 0.1, 1e-5, false), [r(4, 3), r(3)]],
  ['activations silu/gelu/relu/prelu/softmax/log_softmax', (x) => x.silu().add(x.gelu()).add(x.gelu('tanh')).add(x.add(0.05).relu()).add(x.prelu(torch.tensor([0.2], { dtype: 'f64' }))).add(x.softmax(-1)).add(x.logSoftmax(0)), [r(3, 4)]],
  ['interpolate bilinear/bicubic/nearest/antialiased', (x) => torch.cat([x.interpolateBilinear([5, 5], true).flatten(), x.interpolateBicubic([4, 6], false).flatten(), x.interpolateNearest([6, 6]).flatten(), x.interpolateBilinearAA([2, 2], false).flatten()], 0), [r(1, 1, 3, 3)]],
  ['pad/pooling', (x) => torch.cat([x.pad([1, 1, 1, 1], 'reflect').flatten(), x.maxPool2d([2, 2]).flatten(), x.avgPool2d([2, 2]).flatten(), x.adaptiveAvgPool2d([1, 1]).flatten()], 0), [r(1, 1, 4, 4)]],
  ['cumsum/clamp/abs', (x) => x.cumsum(0).add(x.clamp(-0.5, 0.5)).add(x.abs()), [r(5)]],
  ['losses mse/l1/cross_entropy/cosine_similarity', (a, b) => torch.stack([torch.mseLoss(a, b), torch.l1Loss(a, b), torch.crossEntropy(a, torch.tensor([1, 0], { dtype: 'i64' })), torch.cosineSimilarity(a, b, 1).sum()]), [r(2, 3), r(2, 3)]],
  ['linalg svd/det/inv', (a) => torch.stack([torch.svd(a, false)[1].sum(), a.det(), a.inv().sum()]), [torch.tensor([[2, 0.3], [0.1, 1]], { dtype: 'f64' })]],
];

for (const [name, fn, inputs] of cases) {
  test(`gradcheck: ${name}`, () => {
    const res = torch.gradcheck(fn, inputs);
    const scale = Math.max(1, ...res.numeric.flat().map(Math.abs));
    assert.ok(res.maxAbsError <= 1e-6 * scale, `${name}: max |analytic - numeric| = ${res.maxAbsError}`);
    assert.ok(res.analytic.flat().some((v) => v !== 0), `${name}: gradient is identically zero`);
  });
}

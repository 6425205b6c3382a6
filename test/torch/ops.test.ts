import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { assertClose } from './helpers.ts';

const t = (x: Parameters<typeof torch.tensor>[0], dtype?: torch.DType) => torch.tensor(x, { dtype });

test('elementwise arithmetic with tensors and scalars', () => {
  const a = t([1, 2, 3]), b = t([4, 5, 6]);
  assertClose(a.add(b), [5, 7, 9]);
  assertClose(a.add(b, 2), [9, 12, 15]);
  assertClose(a.sub(1), [0, 1, 2]);
  assertClose(a.mul(b), [4, 10, 18]);
  assertClose(b.div(a), [4, 2.5, 2]);
  assertClose(a.pow(2), [1, 4, 9]);
  assertClose(torch.powScalar(2, a), [2, 4, 8]);
  assertClose(a.neg().abs(), [1, 2, 3]);
  assertClose(a.exp(), [Math.E, Math.E ** 2, Math.E ** 3], 1e-6);
  assertClose(a.log(), [0, Math.LN2, Math.log(3)], 1e-6);
  assertClose(t([4, 9]).sqrt(), [2, 3]);
  assertClose(t([4]).rsqrt(), [0.5]);
  assertClose(t([0]).sigmoid(), [0.5]);
  assertClose(t([0.5]).tanh(), [Math.tanh(0.5)], 1e-6);
  assertClose(t([-2.5, 2.5]).clamp(-1, 1), [-1, 1]);
  assertClose(t([-2.5, 2.5]).clamp(undefined, 1), [-2.5, 1]);
  assertClose(t([1.5, -1.5]).floor(), [1, -2]);
  assertClose(t([0, 10]).lerp(t([10, 20]), 0.25), [2.5, 12.5]);
  assertClose(t([1]).addcmul(t([2]), t([3]), 0.5), [4]);
  assertClose(t([7, -7]).remainder(3), [1, 2]);
  assertClose(torch.maximum(t([1, 5]), t([3, 2])), [3, 5]);
  assertClose(torch.atan2(t([1]), t([1])), [Math.PI / 4], 1e-6);
});

test('integer scalars keep integer dtypes, like Python ints', () => {
  const i = t([1, 2], 'i64');
  assert.equal(i.add(1).dtype, 'i64');
  assert.equal(i.mul(0.5).dtype, 'f32');
  assert.equal(t([1.5]).add(1).dtype, 'f32');
});

test('comparisons, logic and where', () => {
  const a = t([1, 2, 3]);
  assertClose(a.gt(1), [0, 1, 1]);
  assert.equal(a.gt(1).dtype, 'bool');
  assertClose(a.eq(t([1, 0, 3])), [1, 0, 1]);
  assertClose(torch.logicalAnd(a.ge(2), a.le(2)), [0, 1, 0]);
  assertClose(torch.where(a.gt(1), a, t([0, 0, 0])), [0, 2, 3]);
  assertClose(torch.where(a.gt(1), a, -1), [-1, 2, 3]);
  assertClose(a.maskedFill(a.eq(2), 9), [1, 9, 3]);
  assertClose(t([NaN, 1]).isnan(), [1, 0]);
});

test('reductions: sum, mean, var/std with correction, max/min/argmax, norm', () => {
  const m = t([[1, 2, 3], [4, 5, 6]]);
  assert.equal(m.sum().item(), 21);
  assertClose(m.sum([1]), [6, 15]);
  assert.deepEqual(m.sum([1], true).shape, [2, 1]);
  assertClose(m.mean([0]), [2.5, 3.5, 4.5]);
  assertClose(t([1, 2, 3, 4]).var(undefined, 1), [5 / 3], 1e-6);
  assertClose(t([1, 2, 3, 4]).var(undefined, 0), [1.25], 1e-6);
  assertClose(t([1, 2, 3, 4]).std(undefined, 1), [Math.sqrt(5 / 3)], 1e-6);
  const [v, i] = m.maxDim(1);
  assertClose(v, [3, 6]);
  assertClose(i, [2, 2]);
  assert.equal(m.max().item(), 6);
  assert.equal(m.min().item(), 1);
  assertClose(m.argmax(0), [1, 1, 1]);
  assertClose(m.amax([0]), [4, 5, 6]);
  assertClose(t([3, 4]).norm(), [5]);
  assertClose(m.norm(1, [1]), [6, 15]);
  assertClose(t([1, 2, 3]).cumsum(0), [1, 3, 6]);
  assertClose(t([0, 0]).logsumexp([0]), [Math.LN2], 1e-6);
  const [vr, mn] = t([1, 2, 3, 4]).varMean(undefined, 1);
  assertClose(vr, [5 / 3], 1e-6);
  assertClose(mn, [2.5]);
});

test('products: matmul, bmm, baddbmm, einsum, linear', () => {
  const a = t([[1, 2], [3, 4]]), b = t([[5, 6], [7, 8]]);
  assertClose(a.matmul(b), [19, 22, 43, 50]);
  assertClose(a.unsqueeze(0).bmm(b.unsqueeze(0)), [19, 22, 43, 50]);
  assertClose(torch.ones([1, 2, 2]).baddbmm(a.unsqueeze(0), b.unsqueeze(0), 0.5, 2), [38.5, 44.5, 86.5, 100.5]);
  assertClose(torch.einsum('ij,jk->ik', [a, b]), [19, 22, 43, 50]);
  assertClose(torch.einsum('ii->', [a]), [5]);
  assertClose(torch.linear(t([[1, 1]]), a, t([10, 20])), [13, 27]);
});

test('shape ops', () => {
  const x = torch.arange(0, 6, 1, 'f32').view([2, 3]);
  assert.deepEqual(x.transpose(0, 1).shape, [3, 2]);
  assertClose(x.transpose(0, 1).contiguous(), [0, 3, 1, 4, 2, 5]);
  assertClose(x.permute([1, 0]).reshape([6]), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(x.unsqueeze(1).expand([2, 4, 3]).shape, [2, 4, 3]);
  assertClose(t([1, 2]).repeat([2]), [1, 2, 1, 2]);
  assertClose(t([1, 2]).repeatInterleave(2), [1, 1, 2, 2]);
  assertClose(torch.cat([t([1]), t([2, 3])], 0), [1, 2, 3]);
  assert.deepEqual(torch.stack([t([1, 2]), t([3, 4])], 1).shape, [2, 2]);
  assertClose(torch.stack([t([1, 2]), t([3, 4])], 1), [1, 3, 2, 4]);
  const parts = torch.arange(0, 5, 1, 'f32').split(2);
  assert.deepEqual(parts.map((p) => p.toArray()), [[0, 1], [2, 3], [4]]);
  assert.deepEqual(torch.arange(0, 5, 1, 'f32').split([1, 4]).map((p) => p.shape[0]), [1, 4]);
  assert.equal(x.chunk(3, 1).length, 3);
  assertClose(x.narrow(1, 1, 2), [1, 2, 4, 5]);
  assertClose(x.slice(1, 0, undefined, 2), [0, 2, 3, 5]);
  assertClose(x.select(0, 1), [3, 4, 5]);
  assertClose(x.indexSelect(1, t([2, 0], 'i64')), [2, 0, 5, 3]);
  assertClose(x.gather(1, t([[0, 0], [2, 1]], 'i64')), [0, 0, 5, 4]);
  assertClose(x.index([t([1, 0], 'i64')]), [3, 4, 5, 0, 1, 2]);
  assertClose(x.flip([1]), [2, 1, 0, 5, 4, 3]);
  assertClose(t([1, 2, 3]).roll([1]), [3, 1, 2]);
  assert.deepEqual(x.unsqueeze(0).squeeze(0).shape, [2, 3]);
  assert.deepEqual(torch.zeros([2, 1, 3, 1]).squeeze().shape, [2, 3]);
  assert.deepEqual(torch.zeros([2, 3, 4]).flatten(1).shape, [2, 12]);
  assertClose(t([[1, 2]]).pad([1, 1]), [0, 1, 2, 0]);
  assertClose(t([[[1, 2]]]).pad([1, 1], 'replicate'), [1, 1, 2, 2]);
  assertClose(t([[[1, 2, 3]]]).pad([1, 1], 'reflect'), [2, 1, 2, 3, 2]);
  assertClose(t([[1, 2], [3, 4]]).tril(), [1, 0, 3, 4]);
});

test('convolutions against hand-computed values', () => {
  const img = torch.arange(1, 10, 1, 'f32').view([1, 1, 3, 3]);
  const k = torch.ones([1, 1, 2, 2]);
  assertClose(torch.conv2d(img, k), [12, 16, 24, 28]);
  assertClose(torch.conv2d(img, k, t([1]), 1, 1).narrow(2, 0, 1), [2, 4, 6, 4]);
  assertClose(torch.conv2d(img, k, undefined, 2), [12]);
  assertClose(torch.conv1d(t([[[1, 2, 3]]]), t([[[1, -1]]])), [-1, -1]);
  assert.deepEqual(torch.conv3d(torch.ones([1, 2, 3, 4, 4]), torch.ones([5, 2, 3, 1, 1]), undefined, 1, [1, 0, 0]).shape, [1, 5, 3, 4, 4]);
  // transposed conv scatters each input pixel over the kernel
  assertClose(torch.convTranspose2d(t([[[[1, 2]]]]), torch.ones([1, 1, 1, 2]), undefined, [1, 2]), [1, 1, 2, 2]);
  const grouped = torch.conv2d(torch.ones([1, 4, 2, 2]), torch.ones([4, 1, 1, 1]), undefined, 1, 0, 1, 4);
  assertClose(grouped.sum([2, 3]), [4, 4, 4, 4]);
});

test('normalisation layers', () => {
  const x = t([[1, 2, 3, 4]]);
  const mean = 2.5, sd = Math.sqrt(1.25 + 1e-5);
  assertClose(torch.layerNorm(x, [4]), [1, 2, 3, 4].map((v) => (v - mean) / sd), 1e-5);
  assertClose(torch.layerNorm(x, [4], t([2, 2, 2, 2]), t([1, 1, 1, 1])), [1, 2, 3, 4].map((v) => (2 * (v - mean)) / sd + 1), 1e-5);
  const g = torch.groupNorm(t([[[1], [3], [10], [20]]]), 2, undefined, undefined, 0);
  assertClose(g, [-1, 1, -1, 1], 1e-5);
  const bn = torch.batchNorm(t([[2], [4]]), t([1]), t([0]), t([1]), t([4]), false, 0.1, 0, false);
  assertClose(bn, [0.5, 1.5], 1e-6);
});

test('activations', () => {
  assertClose(t([1]).silu(), [1 / (1 + Math.exp(-1))], 1e-6);
  assertClose(t([1]).gelu(), [0.8413447460685429], 1e-6);
  assertClose(t([1]).gelu('tanh'), [0.8411919906082768], 1e-6);
  assertClose(t([-1, 2]).relu(), [0, 2]);
  assertClose(t([-1, 2]).prelu(t([0.25])), [-0.25, 2]);
  assertClose(t([-1, 2]).leakyRelu(0.1), [-0.1, 2]);
  assertClose(t([0, Math.LN2]).softmax(0), [1 / 3, 2 / 3], 1e-6);
  assertClose(t([0, 0]).logSoftmax(0), [-Math.LN2, -Math.LN2], 1e-6);
  assert.equal(t([0, 0], 'bf16').softmax(0, 'f32').dtype, 'f32');
});

test('interpolation: nearest, bilinear (align_corners), bicubic, antialiased', () => {
  const x = t([[[[0, 1], [2, 3]]]]);
  assertClose(x.interpolateNearest([4, 4]).select(2, 0), [0, 0, 1, 1]);
  assertClose(x.interpolateBilinear([3, 3], true).select(2, 1), [1, 1.5, 2]);
  assertClose(x.interpolateBilinear([4, 4], false).select(2, 0), [0, 0.25, 0.75, 1]);
  assertClose(x.interpolateBicubic([3, 3], true).select(2, 1), [1, 1.5, 2], 1e-6);
  // antialiased downscale of a constant stays constant
  assertClose(torch.full([1, 1, 8, 8], 3, 'f32').interpolateBilinearAA([2, 2], false).flatten(), [3, 3, 3, 3], 1e-6);
  assertClose(x.interpolateNearest(undefined, [2, 2]).select(3, 1).flatten(), [0, 0, 2, 2]);
});

test('pooling', () => {
  const x = torch.arange(0, 16, 1, 'f32').view([1, 1, 4, 4]);
  assertClose(x.maxPool2d([2, 2]), [5, 7, 13, 15]);
  assertClose(x.avgPool2d([2, 2]), [2.5, 4.5, 10.5, 12.5]);
  assertClose(x.adaptiveAvgPool2d([1, 1]), [7.5]);
});

test('linear algebra: svd, det, inv', () => {
  const a = t([[3, 0], [0, -2]], 'f64');
  const [, s] = torch.svd(a);
  assertClose(s, [3, 2], 1e-12);
  assertClose(t([[1, 2], [3, 4]], 'f64').det(), [-2], 1e-12);
  assertClose(t([[2, 0], [0, 4]], 'f64').inv(), [0.5, 0, 0, 0.25], 1e-12);
  const m = t([[1, 2], [3, 4], [5, 6]], 'f64');
  const [u, sv, vh] = torch.svd(m, false);
  assertClose(u.mul(sv.unsqueeze(0)).matmul(vh), m.toArray(), 1e-12);
});

test('random: seeded generators reproduce PyTorch and each other', () => {
  // torch.Generator().manual_seed(42); torch.randn(3, generator=g)
  assertClose(torch.randn([3], new torch.Generator(42)), [0.33669036626815796, 0.12880940735340118, 0.23446236550807953], 1e-7);
  const g1 = new torch.Generator(7), g2 = new torch.Generator(7);
  assert.deepEqual(torch.rand([5], g1).toArray(), torch.rand([5], g2).toArray());
  const u = torch.rand([10000], new torch.Generator(1));
  assert.ok(u.min().item() >= 0 && u.max().item() < 1);
  assert.ok(Math.abs(u.mean().item() - 0.5) < 0.02);
  const r = torch.randint(0, 10, [1000], new torch.Generator(2));
  assert.equal(r.dtype, 'i64');
  assert.ok(r.min().item() >= 0 && r.max().item() <= 9);
  const perm = torch.randperm(6, new torch.Generator(3)).toArray().sort();
  assert.deepEqual(perm, [0, 1, 2, 3, 4, 5]);
  const n = torch.empty([20000]).normal_(2, 3, new torch.Generator(4));
  assert.ok(Math.abs(n.mean().item() - 2) < 0.1 && Math.abs(n.std().item() - 3) < 0.1);
  const bern = torch.full([10000], 0.5).bernoulli(0.3, new torch.Generator(5));
  assert.ok(Math.abs(bern.mean().item() - 0.3) < 0.02);
});

test('dtypes: round trips through typed arrays for every dtype', () => {
  const cases: [torch.DType, ArrayBufferView][] = [
    ['f32', new Float32Array([1.5, -2])], ['f64', new Float64Array([1e-300, 3])], ['i32', new Int32Array([-5, 7])],
    ['i64', new BigInt64Array([-(2n ** 40n), 3n])], ['u8', new Uint8Array([0, 255])], ['i8', new Int8Array([-128, 127])],
    ['i16', new Int16Array([-300, 300])],
  ];
  for (const [dtype, arr] of cases) {
    const x = torch.tensor(arr, { dtype });
    assert.equal(x.dtype, dtype);
    assert.deepEqual(Array.from(x.data() as unknown as ArrayLike<number | bigint>), Array.from(arr as unknown as ArrayLike<number | bigint>));
  }
  assertClose(t([1.5, -2]).to('f16').float(), [1.5, -2]);
  assertClose(t([1.5, -2]).to('bf16').float(), [1.5, -2]);
  assert.deepEqual([...t([1, 0.5]).to('f16').data<'f16'>()], [0x3c00, 0x3800]);
  assert.deepEqual(t([1, 0, 2]).to('bool').toArray(), [1, 0, 1]);
  assert.equal(torch.tensor([[1, 2], [3, 4]]).shape.join(), '2,2');
});

test('bad inputs raise errors naming the op, shapes and dtypes', () => {
  assert.throws(() => torch.matmul(torch.ones([2, 3]), torch.ones([2, 3])), /aten::matmul\(f32\[2,3\], f32\[2,3\]\).*cannot be multiplied/);
  assert.throws(() => torch.conv2d(torch.ones([1, 3, 4, 4]), torch.ones([2, 4, 1, 1])), /aten::conv2d\(f32\[1,3,4,4\], f32\[2,4,1,1\].*channels/);
  assert.throws(() => torch.ones([2]).add(torch.ones([3])), /aten::add.*f32\[2\], f32\[3\]/);
  assert.throws(() => torch.mm(torch.ones([2, 2]), torch.ones([2, 2], 'f64')), /aten::mm\(f32\[2,2\], f64\[2,2\]\)/);
  assert.throws(() => torch.ones([2]).view([3]), /aten::view/);
  assert.throws(() => torch.tensor(new Float32Array(3), { shape: [2, 2] }), /needs 16 bytes, the array has 12/);
  assert.throws(() => torch.tensor([[1, 2], [3]]), /ragged/);
  const x = torch.ones([1]);
  x.dispose();
  assert.throws(() => x.add(1), /used after dispose/);
  assert.throws(() => torch.ones([2]).to('f17' as torch.DType), /unknown dtype or device 'f17'/);
  assert.throws(() => torch.zeros([2], undefined, undefined, 'gpu7' as torch.Device), /aten::zeros.*Invalid device string/);
});

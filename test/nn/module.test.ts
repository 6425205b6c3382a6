import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { assertClose } from '../torch/helpers.ts';

class Attention extends nn.Module {
  to_q = new nn.Linear(8, 8, { bias: false });
  to_kv = new nn.Linear(8, 16, { bias: false });
}
class Fusion extends nn.Module {
  proj_in = new nn.Linear(4, 8);
  layers = new nn.ModuleList([0, 1, 2, 3].map(() => new nn.ModuleList<nn.Module>([
    new Attention(),
    new nn.Sequential([new nn.LayerNorm(8), new nn.Linear(8, 32, { bias: false }), new nn.GELU(), new nn.Linear(32, 8, { bias: false })]),
  ])));
  bn = new nn.BatchNorm(8);
}

test('state-dict names follow attribute paths exactly as PyTorch names them', () => {
  const m = new Fusion();
  const keys = [...m.stateDict().keys()];
  assert.ok(keys.includes('fusion_model.layers.3.0.to_kv.weight'.replace('fusion_model.', '')));
  assert.deepEqual(keys.slice(0, 8), [
    'proj_in.weight', 'proj_in.bias', 'layers.0.0.to_q.weight', 'layers.0.0.to_kv.weight',
    'layers.0.1.0.weight', 'layers.0.1.0.bias', 'layers.0.1.1.weight', 'layers.0.1.3.weight',
  ]);
  assert.deepEqual(keys.slice(-5), ['bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
  assert.equal(m.parameters().length, 2 + 4 * 6 + 2);
  assert.equal(m.numParameters(), 4 * 8 + 8 + 4 * (64 + 128 + 16 + 256 + 256) + 16);
});

test('loadStateDict copies values and reports missing, unexpected and mis-shaped keys', () => {
  const a = nn.withInit({ seed: 1 }, () => new Fusion());
  const b = nn.withInit({ seed: 2 }, () => new Fusion());
  assert.notDeepEqual(a.proj_in.weight.toArray(), b.proj_in.weight.toArray());
  b.loadStateDict(a.stateDict());
  assert.deepEqual(a.proj_in.weight.toArray(), b.proj_in.weight.toArray());
  const sd = new Map(a.stateDict());
  sd.delete('proj_in.bias');
  sd.set('extra.weight', torch.ones([1]));
  sd.set('layers.0.0.to_q.weight', torch.ones([8, 4]));
  assert.throws(() => b.loadStateDict(sd, { source: 'face_encoder.pth' }), (e: Error) => {
    assert.match(e.message, /face_encoder\.pth/);
    assert.match(e.message, /missing keys \(1\): proj_in\.bias/);
    assert.match(e.message, /unexpected keys \(1\): extra\.weight/);
    assert.match(e.message, /shape of layers\.0\.0\.to_q\.weight: expected \[8,8\], found \[8,4\]/);
    return true;
  });
  const report = b.loadStateDict(sd, { strict: false });
  assert.deepEqual(report.missing, ['proj_in.bias']);
});

test('meta construction allocates nothing and assign-loading adopts tensors', () => {
  const meta = nn.withInit({ device: 'meta' }, () => new Fusion());
  assert.equal(meta.proj_in.weight.device, 'meta');
  assert.equal(meta.bn.num_batches_tracked.device, 'meta');
  const real = new Fusion();
  meta.loadStateDict(real.stateDict(), { assign: true });
  assert.equal(meta.proj_in.weight.device, 'cpu');
  assert.ok(meta.proj_in.weight.requiresGrad);
  assert.equal(meta.bn.num_batches_tracked.dtype, 'i64');
  const x = torch.randn([2, 4], new torch.Generator(0));
  assertClose(meta.proj_in.forward(x), real.proj_in.forward(x).toArray());
});

test('train/eval, to(dtype), requiresGrad_', () => {
  const m = new Fusion();
  m.eval();
  assert.equal(m.bn.training, false);
  m.train();
  assert.equal(m.layers.at(2).training, true);
  m.to('bf16');
  assert.equal(m.proj_in.weight.dtype, 'bf16');
  assert.equal(m.bn.num_batches_tracked.dtype, 'i64');
  m.requiresGrad_(false);
  assert.ok(m.parameters().every((p) => !p.requiresGrad));
});

test('a small conv net trains to a target loss with AdamW', () => {
  class Net extends nn.Module {
    conv = new nn.Conv2d(1, 8, 3, { padding: 1 });
    norm = new nn.GroupNorm(4, 8);
    head = new nn.Linear(8, 1);
    forward(x: torch.Tensor) {
      return this.head.forward(this.norm.forward(this.conv.forward(x)).silu().mean([2, 3]));
    }
  }
  const net = nn.withInit({ seed: 0 }, () => new Net());
  const g = new torch.Generator(9);
  const x = torch.randn([32, 1, 6, 6], g);
  const y = x.mean([1, 2, 3]).unsqueeze(1).mul(3).tanh();
  const opt = new nn.AdamW(net.parameters(), { lr: 0.02, weightDecay: 0 });
  let loss = Infinity;
  for (let i = 0; i < 300; i++) {
    loss = torch.scope(() => {
      const l = torch.mseLoss(net.forward(x), y);
      l.backward();
      return l.item();
    });
    opt.step();
    opt.zeroGrad();
  }
  assert.ok(loss < 0.01, `final loss ${loss}`);
});

test('Adam/AdamW/SGD steps equal the hand-computed update', () => {
  const p = torch.tensor([1, -2]).requiresGrad_();
  const opt = new nn.AdamW([p], { lr: 0.1, weightDecay: 0.5, betas: [0.9, 0.99], eps: 1e-8 });
  p.mul(p).sum().backward(); // grad = 2p
  opt.step();
  // step 1: m = 0.1 g, v = 0.01 g^2, mhat = g, vhat = g^2 -> p <- p(1 - lr wd) - lr sign(g)
  assertClose(p, [1 * 0.95 - 0.1, -2 * 0.95 + 0.1], 1e-6);
  const q = torch.tensor([1]).requiresGrad_();
  const sgd = new nn.SGD([q], { lr: 0.1, momentum: 0.9 });
  for (let i = 0; i < 2; i++) {
    q.mul(3).sum().backward();
    sgd.step();
    sgd.zeroGrad();
  }
  assertClose(q, [1 - 0.3 - 0.1 * (3 * 0.9 + 3)], 1e-6);
});

test('optimizer state round-trips through stateDict', () => {
  const p = torch.tensor([1, 2]).requiresGrad_();
  const opt = new nn.Adam([p], { lr: 0.1 });
  p.sum().backward();
  opt.step();
  const sd = opt.stateDict();
  assert.deepEqual([...sd.tensors.keys()], ['0.exp_avg', '0.exp_avg_sq']);
  assert.equal(sd.scalars['0.step'], 1);
  const p2 = torch.tensor(p.toArray()).requiresGrad_();
  const opt2 = new nn.Adam([p2], { lr: 0.1 });
  opt2.loadStateDict(sd);
  for (const [pp, o] of [[p, opt], [p2, opt2]] as const) {
    pp.grad = undefined;
    pp.mul(pp).sum().backward();
    o.step();
  }
  assertClose(p2, p.toArray(), 1e-7);
});

test('gradient clipping, LR schedules and EMA', () => {
  const p = torch.tensor([0, 0]).requiresGrad_();
  p.mul(torch.tensor([3, 4])).sum().backward();
  assert.equal(nn.clipGradNorm([p], 1), 5);
  assertClose(p.grad!, [0.6, 0.8], 1e-5);
  const warm = nn.constantWithWarmup(1, 4);
  assert.deepEqual([0, 1, 3, 10].map(warm), [0.25, 0.5, 1, 1]);
  const cos = nn.cosineWithWarmup(1, 10, { minLr: 0.1 });
  assertClose([cos(0), cos(5), cos(10)], [1, 0.55, 0.1], 1e-9);
  const lin = new nn.Linear(1, 1);
  const ema = new nn.EMA(lin, 0.5);
  const w0 = lin.weight.item();
  torch.noGrad(() => lin.weight.fill_(w0 + 2));
  ema.update();
  assertClose([ema.shadow.get('weight')!.item()], [w0 + 1], 1e-6);
});

test('attention: chunked equals unchunked, softmax in f32 for bf16', () => {
  const g = new torch.Generator(4);
  const [q, k, v] = [torch.randn([2, 3, 10, 8], g), torch.randn([2, 3, 7, 8], g), torch.randn([2, 3, 7, 5], g)];
  const full = nn.scaledDotProductAttention(q, k, v);
  const chunked = nn.scaledDotProductAttention(q, k, v, { chunkSize: 3 });
  assertClose(chunked, full.toArray(), 1e-6);
  const manual = q.matmul(k.transpose(-1, -2)).mul(1 / Math.sqrt(8)).softmax(-1).matmul(v);
  assertClose(full, manual.toArray(), 1e-5);
  const bf = nn.scaledDotProductAttention(q.bfloat16(), k.bfloat16(), v.bfloat16());
  assert.equal(bf.dtype, 'bf16');
  assert.ok(bf.float().sub(full).abs().max().item() < 0.1);
});

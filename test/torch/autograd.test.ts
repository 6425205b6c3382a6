import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import * as torch from '../../src/torch/index.ts';
import { assertClose } from './helpers.ts';

test('backward, .grad, accumulation and zeroing', () => {
  const x = torch.tensor([1, 2, 3]).requiresGrad_();
  assert.ok(x.isLeaf && x.requiresGrad);
  const y = x.mul(x).sum();
  assert.match(y.gradFn!, /^SumBackward/);
  y.backward(undefined, { retainGraph: true });
  assertClose(x.grad!, [2, 4, 6]);
  y.backward();
  assertClose(x.grad!, [4, 8, 12]);
  x.grad = undefined;
  assert.equal(x.grad, undefined);
  assert.throws(() => y.backward(), /backward/);
});

test('functional grad, create_graph for second derivatives, allowUnused', () => {
  const x = torch.tensor([2], { dtype: 'f64' }).requiresGrad_();
  const u = torch.tensor([1], { dtype: 'f64' }).requiresGrad_();
  const y = x.pow(3);
  const [dy] = torch.grad(y.sum(), [x], { createGraph: true });
  assertClose(dy!, [12]);
  const [d2y] = torch.grad(dy!.sum(), [x]);
  assertClose(d2y!, [12]);
  const [gx, gu] = torch.grad(x.mul(2).sum(), [x, u], { allowUnused: true });
  assertClose(gx!, [2]);
  assert.equal(gu, undefined);
  assert.equal(x.grad, undefined, 'grad() must not accumulate into .grad');
});

test('noGrad / enableGrad scopes and detach', () => {
  const x = torch.ones([2]).requiresGrad_();
  const y = torch.noGrad(() => x.mul(2));
  assert.equal(y.requiresGrad, false);
  assert.equal(torch.noGrad(() => torch.isGradEnabled()), false);
  assert.equal(torch.noGrad(() => torch.enableGrad(() => x.mul(2))).requiresGrad, true);
  assert.equal(torch.isGradEnabled(), true);
  assert.equal(x.mul(2).detach().requiresGrad, false);
  assert.throws(() => torch.noGrad(() => { throw new Error('inner'); }), /inner/);
  assert.equal(torch.isGradEnabled(), true, 'grad mode restored after an exception');
});

test('gradient checkpointing recomputes and gives the same gradients', () => {
  const g = new torch.Generator(1);
  const w = torch.randn([8, 8], g).requiresGrad_();
  const x = torch.randn([4, 8], g).requiresGrad_();
  const block = (inp: torch.Tensor) => inp.matmul(w).tanh().matmul(w).sigmoid();
  block(x).sum().backward();
  const [gw, gx] = [w.grad!.toArray(), x.grad!.toArray()];
  w.grad = undefined;
  x.grad = undefined;
  let calls = 0;
  const [out] = torch.checkpoint(([inp]) => { calls++; return [block(inp)]; }, [x]);
  assert.equal(out.gradFn, 'CheckpointBackward');
  assert.equal(calls, 1);
  out.sum().backward();
  assert.equal(calls, 2, 'recomputed once in backward');
  assertClose(w.grad!, gw, 1e-6);
  assertClose(x.grad!, gx, 1e-6);
  const [noGraph] = torch.noGrad(() => torch.checkpoint(([inp]) => [block(inp)], [x]));
  assert.equal(noGraph.requiresGrad, false);
});

test('autocast runs matmul/conv in bf16 on CPU and restores the mode', () => {
  const a = torch.randn([4, 4], new torch.Generator(2));
  const y = torch.autocast('bf16', () => a.matmul(a));
  assert.equal(y.dtype, 'bf16');
  assert.equal(torch.autocast('bf16', () => torch.conv2d(a.view([1, 1, 4, 4]), torch.ones([1, 1, 3, 3]))).dtype, 'bf16');
  assert.equal(a.matmul(a).dtype, 'f32');
  const ref = a.matmul(a);
  assert.ok(y.float().sub(ref).abs().max().item() < 0.05 * ref.abs().max().item());
});

test('scope frees intermediates and keeps returned tensors', () => {
  const before = torch.liveTensors();
  const kept = torch.scope(() => {
    const a = torch.ones([100]);
    const b = a.add(1).mul(3);
    return { b, list: [b.sum()] };
  });
  assert.equal(torch.liveTensors(), before + 2);
  assert.equal(kept.list[0].item(), 600);
  assert.throws(() => torch.scope(() => { torch.ones([1]); throw new Error('boom'); }), /boom/);
  kept.b.dispose();
  kept.list[0].dispose();
  assert.equal(torch.liveTensors(), before);
});

test('thread count is settable and defaults to all cores', async () => {
  const os = await import('node:os');
  assert.equal(torch.getNumThreads(), Number(process.env.STABLE_ANIMATOR_THREADS) || os.availableParallelism());
  torch.setNumThreads(1);
  assert.equal(torch.getNumThreads(), 1);
  torch.setNumThreads(os.availableParallelism());
  assert.throws(() => torch.setNumThreads(0), /positive integer/);
});

test('the addon loads and computes inside worker_threads', async () => {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const t = require(${JSON.stringify(new URL('../../build/torch.node', import.meta.url).pathname)});
    const add = t.opLookup('aten::add', 'Tensor');
    const a = t.fromBytes(new Float32Array([1, 2]), [2], 6);
    parentPort.postMessage(Array.from(new Float32Array(t.toBytes(t.opCall(add, a, a, 1)))));`;
  const result = await new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.on('message', resolve);
    w.on('error', reject);
  });
  assert.deepEqual(result, [2, 4]);
});

test('engine facts: libtorch version and OpenBLAS', () => {
  const info = torch.engineInfo();
  assert.match(info.torchVersion, /^\d+\.\d+/);
  assert.ok(info.openBlas, `matmul runs on ${info.blasLibrary}, not OpenBLAS: apt-get install libopenblas0-pthread`);
});

test("OpenBLAS's pool follows the thread count (its own default is one worker per core)", () => {
  const before = torch.getNumThreads();
  try {
    for (const n of [1, 2, 1]) {
      torch.setNumThreads(n);
      assert.equal(torch.engineInfo().threads, n);
      assert.equal(torch.engineInfo().blasThreads, n);
    }
  } finally {
    torch.setNumThreads(before);
  }
});

test("views do not report their base's storage to V8 again (each report is a GC hint)", () => {
  torch.scope(() => {
    const base = torch.zeros([16 * 1024 * 1024]); // 64 MB, reported once
    const reported0 = torch.reportedBytes();
    const views = Array.from({ length: 50 }, (_, i) => base.narrow(0, i * 1024, 1024).view([32, 32]));
    const grown = torch.reportedBytes() - reported0;
    // 50 reports of the whole storage would be 3.2 GB
    assert.ok(grown < 16 * 1024 * 1024, `external memory grew by ${(grown / 1e6).toFixed(1)} MB for 50 views`);
    assert.equal(views.length, 50);
    // a new tensor of its own is still reported
    const fresh = torch.zeros([16 * 1024 * 1024]);
    assert.ok(torch.reportedBytes() - reported0 >= 60 * 1024 * 1024, 'a fresh 64 MB tensor is reported');
    fresh.dispose();
  });
});

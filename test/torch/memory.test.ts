// 10,000 training steps must not leak native tensors or memory. Node runs N-API finalizers between
// event-loop turns, so the loop yields now and then as a real training loop (progress, data) does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';

test('10,000 training steps keep the live-tensor count flat and RSS within +50 MB', async () => {
  class Net extends nn.Module {
    fc1 = new nn.Linear(16, 32);
    fc2 = new nn.Linear(32, 1);
    forward(x: torch.Tensor) { return this.fc2.forward(this.fc1.forward(x).gelu()); }
  }
  const net = nn.withInit({ seed: 3 }, () => new Net());
  const opt = new nn.AdamW(net.parameters(), { lr: 1e-3 });
  const g = new torch.Generator(5);
  const step = () => {
    torch.scope(() => {
      const x = torch.randn([8, 16], g);
      const loss = torch.mseLoss(net.forward(x), x.sum([1], true));
      loss.backward();
      nn.clipGradNorm(net.parameters(), 1);
    });
    opt.step();
    opt.zeroGrad();
  };
  for (let i = 0; i < 200; i++) step(); // optimizer state and allocator warm-up
  global.gc?.();
  const live0 = torch.liveTensors();
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < 10_000; i++) {
    step();
    if (i % 100 === 0) await new Promise(setImmediate);
  }
  global.gc?.();
  const grown = (process.memoryUsage().rss - rss0) / 2 ** 20;
  assert.equal(torch.liveTensors(), live0, 'live tensors after 10,000 steps');
  assert.ok(grown < 50, `RSS grew by ${grown.toFixed(1)} MB`);
});

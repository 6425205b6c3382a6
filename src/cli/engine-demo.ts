// The engine demo: trains a small conv net on a synthetic task and shows the loss going down.
import { parseArgs } from 'node:util';
import * as torch from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import type { Command } from './main.ts';

class TinyConvNet extends nn.Module {
  conv1 = new nn.Conv2d(1, 16, 3, { padding: 1 });
  norm1 = new nn.GroupNorm(4, 16);
  conv2 = new nn.Conv2d(16, 16, 3, { padding: 1, stride: 2 });
  head = new nn.Linear(16, 1);
  forward(x: torch.Tensor): torch.Tensor {
    const h = this.conv2.forward(this.norm1.forward(this.conv1.forward(x)).silu()).silu();
    return this.head.forward(h.mean([2, 3]));
  }
}

export const engineDemo: Command = {
  summary: 'train a tiny conv net on the libtorch engine and print the loss going down',
  usage: 'stable-animator engine [--steps N] [--seed S]',
  async run(args) {
    const { values } = parseArgs({ args, options: { steps: { type: 'string', default: '300' }, seed: { type: 'string', default: '0' } } });
    const steps = Number(values.steps), seed = Number(values.seed);
    const info = torch.engineInfo();
    console.log(`engine: libtorch ${info.torchVersion}, ${info.threads} threads, BLAS ${info.openBlas ? 'OpenBLAS' : info.blasLibrary}`);
    const net = nn.withInit({ seed }, () => new TinyConvNet());
    const g = new torch.Generator(seed + 1);
    // target: the brightness of the image's left half minus its right half
    const x = torch.randn([64, 1, 16, 16], g);
    const y = x.narrow(3, 0, 8).mean([1, 2, 3]).sub(x.narrow(3, 8, 8).mean([1, 2, 3])).mul(8).unsqueeze(1);
    const opt = new nn.AdamW(net.parameters(), { lr: 3e-3, weightDecay: 0 });
    const t0 = performance.now();
    let first = NaN, last = NaN;
    for (let step = 0; step < steps; step++) {
      last = torch.scope(() => {
        const loss = torch.mseLoss(net.forward(x), y);
        loss.backward();
        return loss.item();
      });
      opt.step();
      opt.zeroGrad();
      if (step === 0) first = last;
      if (step % 50 === 0 || step === steps - 1) {
        const ms = (performance.now() - t0) / (step + 1);
        console.log(`step ${String(step).padStart(4)}  loss ${last.toFixed(5)}  ${ms.toFixed(1)} ms/step  ETA ${((steps - step - 1) * ms / 1000).toFixed(1)} s`);
        await new Promise(setImmediate);
      }
    }
    console.log(`loss ${first.toFixed(4)} -> ${last.toFixed(4)} in ${steps} steps`);
    return last < first ? 0 : 1;
  },
};

// LPIPS (Zhang et al. 2018, the `lpips` package, version 0.1): a perceptual distance from the unit-normalised
// activations of five backbone layers,
//   d(x, y) = sum_l mean_hw( w_l . (f_l(x)/|f_l(x)| - f_l(y)/|f_l(y)|)^2 ),
// with the backbone fed (x - shift) / scale (inputs in [-1, 1]) and w_l the learned non-negative 1x1 "lin"
// layers. Key names are the lpips package's: `net.slice{1..5}.{i}.weight|bias` (i = the torchvision
// `features` index), `lin{0..4}.model.1.weight`, `scaling_layer.shift|scale`. The released lin weights
// (`lpips/weights/v0.1/alex.pth`, `vgg.pth`) hold only lin*; the backbone comes from torchvision's ImageNet
// checkpoint (`alexnet-owt-7be5be79.pth`, `vgg16-397923af.pth`, keys `features.{i}.*`), which loadLpips maps.

import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import { readStateDict } from '../models/checkpoint.ts';

export type LpipsNet = 'alex' | 'vgg';

/** One torchvision `features` entry: a conv (in, out, kernel, stride, padding), a ReLU or a stride-2 max-pool. */
type FeatureOp = { conv: [number, number, number, number, number] } | 'relu' | { pool: number };

const ALEX_FEATURES: FeatureOp[] = [
  { conv: [3, 64, 11, 4, 2] }, 'relu', { pool: 3 }, { conv: [64, 192, 5, 1, 2] }, 'relu', { pool: 3 },
  { conv: [192, 384, 3, 1, 1] }, 'relu', { conv: [384, 256, 3, 1, 1] }, 'relu', { conv: [256, 256, 3, 1, 1] }, 'relu',
];

function vggFeatures(): FeatureOp[] {
  const ops: FeatureOp[] = [];
  let cin = 3;
  for (const v of [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512] as const) {
    if (v === 'M') ops.push({ pool: 2 });
    else {
      ops.push({ conv: [cin, v, 3, 1, 1] }, 'relu');
      cin = v;
    }
  }
  return ops;
}

/** Where the five slices end in `features` (exclusive), and their output channels. */
const SLICES: Record<LpipsNet, { ends: number[]; channels: number[]; features: () => FeatureOp[] }> = {
  alex: { ends: [2, 5, 8, 10, 12], channels: [64, 192, 384, 256, 256], features: () => ALEX_FEATURES },
  vgg: { ends: [4, 9, 16, 23, 30], channels: [64, 128, 256, 512, 512], features: vggFeatures },
};

/** A run of `features` entries; convs are children named by their torchvision index. */
class FeatureSlice extends nn.Module {
  private readonly ops: [number, FeatureOp][];

  constructor(ops: [number, FeatureOp][]) {
    super();
    this.ops = ops;
    for (const [i, op] of ops) {
      if (typeof op === 'object' && 'conv' in op) {
        const [cin, cout, k, stride, padding] = op.conv;
        (this as unknown as Record<string, nn.Module>)[String(i)] = new nn.Conv2d(cin, cout, k, { stride, padding });
      }
    }
  }

  forward(x: Tensor): Tensor {
    for (const [i, op] of this.ops) {
      if (op === 'relu') x = x.relu();
      else if ('pool' in op) x = x.maxPool2d(op.pool, 2);
      else x = ((this as unknown as Record<string, nn.Conv2d>)[String(i)]).forward(x);
    }
    return x;
  }
}

/** `lin{k}`: Dropout (index 0, inactive) then a bias-free 1x1 conv to one channel (index 1). */
class NetLinLayer extends nn.Module {
  model: nn.Module;
  constructor(channels: number) {
    super();
    this.model = new nn.Module();
    (this.model as unknown as Record<string, nn.Module>)['1'] = new nn.Conv2d(channels, 1, 1, { bias: false });
  }
  forward(x: Tensor): Tensor {
    return ((this.model as unknown as Record<string, nn.Conv2d>)['1']).forward(x);
  }
}

export class LPIPS extends nn.Module {
  scaling_layer: nn.Module;
  net: nn.Module;
  lin0: NetLinLayer;
  lin1: NetLinLayer;
  lin2: NetLinLayer;
  lin3: NetLinLayer;
  lin4: NetLinLayer;

  constructor(readonly kind: LpipsNet = 'alex') {
    super();
    this.scaling_layer = new nn.Module();
    Object.assign(this.scaling_layer, {
      shift: nn.buffer(torch.tensor([-0.03, -0.088, -0.188], { shape: [1, 3, 1, 1] })),
      scale: nn.buffer(torch.tensor([0.458, 0.448, 0.45], { shape: [1, 3, 1, 1] })),
    });
    const spec = SLICES[kind];
    const features = spec.features();
    this.net = new nn.Module();
    let start = 0;
    spec.ends.forEach((end, k) => {
      const slice = new FeatureSlice(features.slice(start, end).map((op, j) => [start + j, op]));
      (this.net as unknown as Record<string, nn.Module>)[`slice${k + 1}`] = slice;
      start = end;
    });
    [this.lin0, this.lin1, this.lin2, this.lin3, this.lin4] = spec.channels.map((c) => new NetLinLayer(c)) as [NetLinLayer, NetLinLayer, NetLinLayer, NetLinLayer, NetLinLayer];
  }

  /** The five backbone activations of images in [-1, 1]. */
  features(x: Tensor): Tensor[] {
    const { shift, scale } = this.scaling_layer as unknown as { shift: Tensor; scale: Tensor };
    let h = x.sub(shift).div(scale);
    const out: Tensor[] = [];
    for (let k = 1; k <= 5; k++) {
      h = ((this.net as unknown as Record<string, FeatureSlice>)[`slice${k}`]).forward(h);
      out.push(h);
    }
    return out;
  }

  /** Per-image distance [N] between two batches [N, 3, H, W] in [-1, 1]. */
  forward(a: Tensor, b: Tensor): Tensor {
    return torch.scope(() => {
      const fa = this.features(a);
      const fb = this.features(b);
      const lins = [this.lin0, this.lin1, this.lin2, this.lin3, this.lin4];
      const unit = (f: Tensor) => f.div(f.square().sum([1], true).sqrt().add(1e-10));
      let total: Tensor | undefined;
      fa.forEach((f, k) => {
        const d = unit(f).sub(unit(fb[k]!)).square();
        const v = lins[k]!.forward(d).mean([2, 3]).flatten();
        total = total ? total.add(v) : v;
      });
      return total!;
    });
  }
}

/**
 * Builds LPIPS from the lin weights file and, when the backbone is not in it, a torchvision backbone file
 * (`features.{i}.*`). The net is inferred from the lin shapes (alex: lin0 has 64 inputs and lin1 192).
 */
export function loadLpips(linPath: string, backbonePath?: string): LPIPS {
  const state = new Map<string, Tensor>();
  for (const [k, t] of readStateDict(linPath)) state.set(k.replace(/^module\./, ''), t);
  const lin1 = state.get('lin1.model.1.weight');
  if (!lin1) throw new Error(`${linPath}: expected LPIPS lin weights (lin0.model.1.weight ... lin4.model.1.weight), found ${[...state.keys()].slice(0, 5).join(', ')}`);
  const kind: LpipsNet = lin1.shape[1] === 192 ? 'alex' : lin1.shape[1] === 128 ? 'vgg' : (() => {
    throw new Error(`${linPath}: lin1 has ${lin1.shape[1]} input channels; expected 192 (alex) or 128 (vgg)`);
  })();
  const model = new LPIPS(kind);
  if (backbonePath) {
    const { ends } = SLICES[kind];
    for (const [k, t] of readStateDict(backbonePath)) {
      const m = /^features\.(\d+)\.(weight|bias)$/.exec(k);
      if (!m) continue; // the classifier
      const i = Number(m[1]);
      const slice = ends.findIndex((end) => i < end) + 1;
      if (slice > 0) state.set(`net.slice${slice}.${i}.${m[2]}`, t);
    }
  }
  // The scaling constants are fixed, not learned; the lpips package stores them as buffers too.
  for (const [k, t] of model.stateDict()) if (k.startsWith('scaling_layer.') && !state.has(k)) state.set(k, t);
  model.loadStateDict(state, { source: backbonePath ? `${linPath} + ${backbonePath}` : linPath });
  return model.eval();
}

/** Mean LPIPS over frames [N, 3, H, W] in [0, 1] (evaluated `batch` frames at a time). */
export function lpips(model: LPIPS, pred: Tensor, gt: Tensor, batch = 4): number {
  if (pred.shape.join() !== gt.shape.join()) throw new Error(`LPIPS: prediction [${pred.shape}] and ground truth [${gt.shape}] differ in shape`);
  let sum = 0;
  const n = pred.size(0);
  torch.noGrad(() => {
    for (let i = 0; i < n; i += batch) {
      const m = Math.min(batch, n - i);
      sum += torch.scope(() => model.forward(pred.narrow(0, i, m).float().mul(2).sub(1), gt.narrow(0, i, m).float().mul(2).sub(1)).sum().item());
    }
  });
  return sum / n;
}

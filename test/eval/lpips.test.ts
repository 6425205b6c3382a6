import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { RawTensor } from '../../src/torch/index.ts';
import { writeSafetensors } from '../../src/torch/serialization/index.ts';
import { LPIPS, loadLpips, lpips } from '../../src/eval/lpips.ts';

// torchvision AlexNet `features`: conv index -> [out, in, k, stride, padding]
const ALEX_CONVS: Record<number, [number, number, number, number, number]> = {
  0: [64, 3, 11, 4, 2], 3: [192, 64, 5, 1, 2], 6: [384, 192, 3, 1, 1], 8: [256, 384, 3, 1, 1], 10: [256, 256, 3, 1, 1],
};
const LIN_CHANNELS = [64, 192, 384, 256, 256];

function raw(t: torch.Tensor): RawTensor {
  const f = t.float().contiguous();
  return { dtype: 'f32', shape: f.shape, data: new Uint8Array(f.data<'f32'>().slice().buffer) };
}

test('LPIPS (alex) on random weights equals the formula computed by hand', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lpips-'));
  try {
    const g = new torch.Generator(7);
    // A torchvision-style backbone file (with a classifier entry to ignore) and an lpips-style lin file.
    const backbone = new Map<string, torch.Tensor>();
    for (const [i, [o, c, k]] of Object.entries(ALEX_CONVS)) {
      backbone.set(`features.${i}.weight`, torch.randn([o, c, k, k], g).mul(Math.sqrt(2 / (c * k * k))));
      backbone.set(`features.${i}.bias`, torch.randn([o], g).mul(0.1));
    }
    backbone.set('classifier.1.weight', torch.randn([4, 9], g));
    const lins = LIN_CHANNELS.map((c) => torch.rand([1, c, 1, 1], g)); // non-negative, as trained
    writeSafetensors(join(dir, 'alexnet.safetensors'), new Map([...backbone].map(([k, v]) => [k, raw(v)])));
    writeSafetensors(join(dir, 'alex.safetensors'), new Map(lins.map((w, k) => [`lin${k}.model.1.weight`, raw(w)])));
    const model = loadLpips(join(dir, 'alex.safetensors'), join(dir, 'alexnet.safetensors'));
    assert.equal(model.kind, 'alex');

    const x = torch.rand([2, 3, 64, 64], g);
    const y = x.add(torch.randn([2, 3, 64, 64], g).mul(0.1)).clamp(0, 1);
    const got = torch.noGrad(() => model.forward(x.mul(2).sub(1), y.mul(2).sub(1))).data<'f32'>();

    // By hand: the backbone as plain torchvision ops, then the distance in JS doubles.
    const shift = [-0.03, -0.088, -0.188];
    const scale = [0.458, 0.448, 0.45];
    const feats = (img: torch.Tensor) => torch.noGrad(() => {
      let h = img.mul(2).sub(1).sub(torch.tensor(shift, { shape: [1, 3, 1, 1] })).div(torch.tensor(scale, { shape: [1, 3, 1, 1] }));
      const conv = (i: number) => {
        const [, , , s, p] = ALEX_CONVS[i];
        h = torch.conv2d(h, backbone.get(`features.${i}.weight`)!, backbone.get(`features.${i}.bias`)!, [s, s], [p, p]).relu();
        return h;
      };
      const out = [conv(0)];
      h = h.maxPool2d(3, 2);
      out.push(conv(3));
      h = h.maxPool2d(3, 2);
      out.push(conv(6), conv(8), conv(10));
      return out;
    });
    const fx = feats(x);
    const fy = feats(y);
    for (let n = 0; n < 2; n++) {
      let total = 0;
      for (let l = 0; l < 5; l++) {
        const [, C, H, W] = fx[l].shape;
        const a = fx[l].narrow(0, n, 1).double().data<'f64'>();
        const b = fy[l].narrow(0, n, 1).double().data<'f64'>();
        const w = lins[l].double().data<'f64'>();
        let layer = 0;
        for (let p = 0; p < H * W; p++) {
          let na = 0, nb = 0;
          for (let c = 0; c < C; c++) {
            na += a[c * H * W + p] ** 2;
            nb += b[c * H * W + p] ** 2;
          }
          na = Math.sqrt(na) + 1e-10;
          nb = Math.sqrt(nb) + 1e-10;
          for (let c = 0; c < C; c++) layer += w[c] * (a[c * H * W + p] / na - b[c * H * W + p] / nb) ** 2;
        }
        total += layer / (H * W);
      }
      assert.ok(Math.abs(got[n] - total) < 1e-4 * total, `image ${n}: ${got[n]} vs ${total}`);
    }
    // lpips() averages over frames, inputs in [0, 1]; a frame against itself is 0; symmetric.
    assert.ok(Math.abs(lpips(model, x, y, 1) - (got[0] + got[1]) / 2) < 1e-5);
    assert.ok(lpips(model, x, x) < 1e-6);
    assert.ok(Math.abs(lpips(model, y, x) - lpips(model, x, y)) < 1e-6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LPIPS key names and shapes follow the lpips package (vgg: features indices kept per slice)', () => {
  const keys = [...new LPIPS('vgg').stateDict()].map(([k, t]) => `${k}:${t.shape.join('x')}`);
  const convs = [[0, 64, 3], [2, 64, 64], [5, 128, 64], [7, 128, 128], [10, 256, 128], [12, 256, 256], [14, 256, 256],
    [17, 512, 256], [19, 512, 512], [21, 512, 512], [24, 512, 512], [26, 512, 512], [28, 512, 512]];
  const slice = (i: number) => [4, 9, 16, 23, 30].findIndex((end) => i < end) + 1;
  const expected = [
    'scaling_layer.shift:1x3x1x1', 'scaling_layer.scale:1x3x1x1',
    ...convs.flatMap(([i, o, c]) => [`net.slice${slice(i)}.${i}.weight:${o}x${c}x3x3`, `net.slice${slice(i)}.${i}.bias:${o}`]),
    ...[64, 128, 256, 512, 512].map((c, k) => `lin${k}.model.1.weight:1x${c}x1x1`),
  ];
  assert.deepEqual(keys.sort(), expected.sort());
  const alex = [...new LPIPS('alex').stateDict().keys()].filter((k) => k.startsWith('net.'));
  assert.deepEqual(alex.sort(), ['net.slice1.0', 'net.slice2.3', 'net.slice3.6', 'net.slice4.8', 'net.slice5.10'].flatMap((p) => [`${p}.bias`, `${p}.weight`]).sort());
});

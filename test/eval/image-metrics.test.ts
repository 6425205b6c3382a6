import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { readImage } from '../../src/io/image.ts';
import { l1, psnr, psnrStar, ssim } from '../../src/eval/image-metrics.ts';

const dir = new URL('../fixtures/ssim/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(dir + 'expected.json', 'utf8'));

async function frames(name: string): Promise<torch.Tensor> {
  const img = await readImage(dir + name, { channels: 3 });
  return torch.tensor(img.data, { shape: [1, img.height, img.width, 3], dtype: 'u8' }).permute([0, 3, 1, 2]).double().div(255);
}

test('SSIM, PSNR and L1 match scikit-image on a real photo pair', async () => {
  const [ref, deg] = [await frames('reference.png'), await frames('degraded.png')];
  assert.ok(Math.abs(ssim(deg, ref) - expected.ssim) < 1e-4, `ssim ${ssim(deg, ref)} vs skimage ${expected.ssim}`);
  assert.ok(Math.abs(psnr(deg, ref) - expected.psnr) < 1e-6, `psnr ${psnr(deg, ref)} vs ${expected.psnr}`);
  assert.ok(Math.abs(l1(deg, ref) - expected.l1) < 1e-9);
});

test('identical frames: SSIM 1, PSNR* large; PSNR* averages per frame', () => {
  const a = torch.rand([2, 3, 16, 16], new torch.Generator(1));
  assert.ok(Math.abs(ssim(a, a) - 1) < 1e-12);
  const b = a.clone();
  torch.noGrad(() => b.narrow(0, 1, 1).add_(0.1));
  // frame 0 exact (clamped to 120 dB), frame 1 at mse 0.01 -> 20 dB
  assert.ok(Math.abs(psnrStar(b, a) - (120 + 20) / 2) < 1e-3);
  assert.ok(Math.abs(psnr(b, a) - 10 * Math.log10(1 / 0.005)) < 1e-3);
});

test('metrics refuse mismatched shapes and tiny images', () => {
  assert.throws(() => l1(torch.zeros([1, 3, 8, 8]), torch.zeros([1, 3, 8, 9])), /L1: prediction \[1,3,8,8\] and ground truth \[1,3,8,9\] differ/);
  assert.throws(() => ssim(torch.zeros([1, 1, 5, 5]), torch.zeros([1, 1, 5, 5])), /smaller than the 7x7 window/);
});

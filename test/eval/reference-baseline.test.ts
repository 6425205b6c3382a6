import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { BaselineAccumulator, movingRegion, scoreWithBaseline } from '../../src/eval/reference-baseline.ts';

/** [N,3,H,W] in [0,1] from 8-bit levels given per pixel by fn(frame, y, x, channel). */
function frames(n: number, h: number, w: number, fn: (f: number, y: number, x: number, c: number) => number): torch.Tensor {
  const data = new Float64Array(n * 3 * h * w);
  for (let f = 0; f < n; f++) for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[((f * 3 + c) * h + y) * w + x] = fn(f, y, x, c) / 255;
  return torch.tensor(data, { shape: [n, 3, h, w] });
}

test('moving region: pixels where some channel differs from the reference by more than 40 levels', () => {
  const ref = frames(1, 4, 4, () => 100);
  // frame 0: pixel (0,0) +41 in green only (moves), (0,1) +40 in every channel (does not), (0,2) -41 in red (moves)
  // frame 1: unchanged
  const gt = frames(2, 4, 4, (f, y, x, c) => {
    if (f === 1 || y !== 0) return 100;
    if (x === 0) return c === 1 ? 141 : 100;
    if (x === 1) return 140;
    if (x === 2) return c === 0 ? 59 : 100;
    return 100;
  });
  const m = movingRegion(ref, gt);
  assert.deepEqual(m.shape, [2, 1, 4, 4]);
  const v = Array.from(m.data<'f64'>());
  assert.deepEqual(v.slice(0, 4), [1, 0, 1, 0]);
  assert.equal(v.reduce((a, b) => a + b, 0), 2);
});

test('moving PSNR: the squared error over every channel of the moving pixels only; NaN when nothing moved', () => {
  const moved = (y: number, x: number) => y < 2 && x < 2; // 4 of the 64 pixels
  const ref = frames(1, 8, 8, () => 0);
  const gt = frames(1, 8, 8, (_, y, x) => (moved(y, x) ? 255 : 0));
  // ours: 51 levels (0.2) off at the moving pixels in every channel, 255 off elsewhere (outside the region)
  const pred = frames(1, 8, 8, (_, y, x) => (moved(y, x) ? 204 : 255));
  const s = scoreWithBaseline(pred, gt, ref);
  assert.ok(Math.abs(s.movingPsnr - 10 * Math.log10(1 / 0.04)) < 1e-9, `${s.movingPsnr}`);
  assert.equal(s.baseline.movingPsnr, 0); // the still reference is off by the full range there
  assert.equal(s.movingFraction, 4 / 64);
  assert.ok(Number.isNaN(scoreWithBaseline(pred, ref, ref).movingPsnr));
});

test('a still video (the reference repeated) scores exactly the repeat-the-reference baseline', () => {
  const g = new torch.Generator(3);
  const ref = torch.rand([1, 3, 24, 24], g, 'f64').mul(255).round().div(255);
  const gt = torch.rand([5, 3, 24, 24], g, 'f64').mul(255).round().div(255);
  const still = ref.expand([5, 3, 24, 24]).contiguous();
  const s = scoreWithBaseline(still, gt, ref);
  for (const k of ['l1', 'psnr', 'ssim', 'movingPsnr'] as const) assert.equal(s[k], s.baseline[k], k);
  assert.ok(s.movingFraction > 0.5 && s.movingFraction < 1, `${s.movingFraction}`);
  // the truth itself beats the baseline everywhere it can
  const perfect = scoreWithBaseline(gt, gt, ref);
  assert.equal(perfect.l1, 0);
  assert.ok(perfect.movingPsnr > 200, `${perfect.movingPsnr}`);
  assert.ok(perfect.baseline.movingPsnr < 20);
});

test('chunked scores equal the scores of the whole sequence', () => {
  const g = new torch.Generator(5);
  const ref = torch.rand([1, 3, 16, 16], g, 'f64');
  const gt = torch.rand([6, 3, 16, 16], g, 'f64');
  const pred = gt.add(torch.randn([6, 3, 16, 16], g, 'f64').mul(0.1)).clamp(0, 1);
  const whole = scoreWithBaseline(pred, gt, ref);
  const acc = new BaselineAccumulator(ref);
  acc.push(pred.narrow(0, 0, 4), gt.narrow(0, 0, 4));
  acc.push(pred.narrow(0, 4, 2), gt.narrow(0, 4, 2));
  const chunked = acc.result();
  for (const k of ['l1', 'psnr', 'ssim', 'movingPsnr'] as const) {
    assert.ok(Math.abs(chunked[k] - whole[k]) < 1e-9, `${k} ${chunked[k]} vs ${whole[k]}`);
    assert.ok(Math.abs(chunked.baseline[k] - whole.baseline[k]) < 1e-9, `baseline ${k}`);
  }
});

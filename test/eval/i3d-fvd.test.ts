// `stable-animator eval --fvd` on the tiny random-weight I3D of test/fixtures/i3d_tiny: the CLI writes the
// FVD; FVD(x, x) is 0; FVD(pred, gt) equals the closed form for two clips per side, computed from I3D
// embeddings taken another way (whole clips resized at once instead of frame by frame). With two clips the
// covariances are rank one, S = a a^T with a = (x1 - x2) / sqrt(2), and tr((S_p S_g)^(1/2)) = |a_p . a_g|, so
//   FVD = |mu_p - mu_g|^2 + |a_p|^2 + |a_g|^2 - 2 |a_p . a_g|.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createImage, writeImage, type Image } from '../../src/io/image.ts';
import { framesToTensor } from '../../src/eval/evaluate.ts';
import { i3dEmbedding, i3dInput } from '../../src/eval/fvd.ts';
import { InceptionI3d } from '../../src/models/i3d/inception-i3d.ts';
import { main } from '../../src/cli/main.ts';

const WEIGHTS = 'test/fixtures/i3d_tiny/i3d_tiny.pth';
const N = 32;
const S = 16;

/** A moving gradient plus seeded noise, so clips differ from each other and between the two videos. */
function frame(i: number, seed: number): Image {
  const im = createImage(S, S);
  let state = (seed * 7919 + i * 104729) >>> 0;
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) for (let c = 0; c < 3; c++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    im.data[(y * S + x) * 3 + c] = (((x + y + i * (seed + 1)) * 8 + c * 60) % 200) + (state >>> 26);
  }
  return im;
}

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

test('eval --fvd: FVD(x, x) = 0, and FVD(pred, gt) equals the two-clip closed form', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fvd-'));
  try {
    const gt = Array.from({ length: N }, (_, i) => frame(i, 1));
    const pred = Array.from({ length: N }, (_, i) => frame(i, 2));
    for (let i = 0; i < N; i++) {
      await writeImage(join(dir, 'gt', `frame_${i}.png`), gt[i]);
      await writeImage(join(dir, 'pred', `frame_${i}.png`), pred[i]);
    }
    const out = join(dir, 'metrics.json');
    const evalArgs = (p: string, ...extra: string[]) => ['eval', '--pred', join(dir, p), '--gt', join(dir, 'gt'), '-o', out, '--no-csim', '--no-pose', '--fvd', WEIGHTS, ...extra];

    // independent embeddings: each 16-frame clip resized as one tensor
    const model = InceptionI3d.fromPretrained(WEIGHTS);
    const embed = (frames: Image[]) => [0, 16].map((s) => i3dEmbedding(model, i3dInput(framesToTensor(frames.slice(s, s + 16)), 224)).flatten().toArray());
    const [g1, g2] = embed(gt);
    const [p1, p2] = embed(pred);
    const half = (u: number[], v: number[]) => u.map((x, k) => (x - v[k]) / Math.SQRT2);
    const [ag, ap] = [half(g1, g2), half(p1, p2)];
    const dMean = p1.reduce((s, _, k) => s + ((p1[k] + p2[k]) / 2 - (g1[k] + g2[k]) / 2) ** 2, 0);
    const expected = dMean + dot(ap, ap) + dot(ag, ag) - 2 * Math.abs(dot(ap, ag));
    assert.ok(expected > 1e-4, `the two videos should differ in I3D space (closed form ${expected})`);

    assert.equal(await main(evalArgs('pred')), 0);
    const m = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(m.fvd.clips, 2);
    assert.equal(m.fvd.dims, 400);
    assert.equal(m.fvd.layer, 'logits');
    assert.ok(Math.abs(m.fvd.value - expected) <= 1e-4 * expected, `FVD ${m.fvd.value} vs closed form ${expected}`);
    assert.match(m.notes.join('\n'), /FVD compares the 2 clips of one video pair/);

    assert.equal(await main(evalArgs('gt')), 0);
    const same = JSON.parse(readFileSync(out, 'utf8'));
    // 0 up to rounding: relative to the covariances' trace (2 |a_g|^2), the square roots of the ~399 zero
    // eigenvalues of the rank-one 400x400 covariances leave about 1e-6
    const trace = 2 * dot(ag, ag);
    assert.ok(Math.abs(same.fvd.value) < 1e-5 * trace, `FVD(x, x) = ${same.fvd.value} (trace ${trace})`);

    // fewer than 2 clips: no covariance, reported as null with the reason
    assert.equal(await main(evalArgs('pred', '--max-frames', '15')), 0);
    const short = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(short.fvd.value, null);
    assert.equal(short.fvd.clips, 0);
    assert.match(short.notes.join('\n'), /0 clip\(s\) of 16 frames per video, at least 2 are needed/);
    assert.equal(await main(evalArgs('pred', '--fvd-layer', 'mean')), 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

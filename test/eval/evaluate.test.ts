import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readImage, writeImage, type Image } from '../../src/io/image.ts';
import { encodeVideo } from '../../src/io/video.ts';
import { EmbeddedPoseDetector } from '../../src/pose/embedded/detector.ts';
import { evaluateVideo, framesToTensor } from '../../src/eval/evaluate.ts';
import { l1, psnr, psnrStar, ssim } from '../../src/eval/image-metrics.ts';
import { main } from '../../src/cli/main.ts';
import { PHOTO, cropPhoto } from './photo-frames.ts';

const S = 192;
const crop = (photo: Image, x0: number, y0: number, seed: number) => cropPhoto(photo, x0, y0, seed, S, 4);

test('eval: chunked metrics equal the whole-sequence metrics; CSIM and pose distance from the detectors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eval-'));
  try {
    const photo = await readImage(PHOTO, { channels: 3 });
    const n = 3;
    // ground truth: still crops; prediction: the same view moved 8 px left (the person 8 px right) plus noise
    const gt = Array.from({ length: n }, (_, i) => crop(photo, 40, 20, i + 1));
    const pred = Array.from({ length: n }, (_, i) => crop(photo, 32, 20, 100 + i));
    for (let i = 0; i < n; i++) {
      await writeImage(join(dir, 'gt', `frame_${i}.png`), gt[i]);
      await writeImage(join(dir, 'pred', `frame_${i}.png`), pred[i]);
    }
    const detector = new EmbeddedPoseDetector({ hands: false, face: false });
    const m = await evaluateVideo(join(dir, 'pred'), join(dir, 'gt'), { poseDetector: detector, chunk: 2 });
    const [p, g] = [framesToTensor(pred), framesToTensor(gt)];
    assert.equal(m.frames, n);
    assert.deepEqual(m.size, [S, S]);
    assert.ok(Math.abs(m.l1 - l1(p, g)) < 1e-9);
    assert.ok(Math.abs(m.psnr - psnr(p, g)) < 1e-9);
    assert.ok(Math.abs(m.psnrStar - psnrStar(p, g)) < 1e-9);
    assert.ok(Math.abs(m.ssim - ssim(p, g)) < 1e-9);
    // The person moved 8 px of 192 to the right: body keypoints move ~0.042 in normalised x.
    assert.ok(m.poseDistance && m.poseDistance.keypoints >= 5 * n, `keypoints ${m.poseDistance?.keypoints}`);
    assert.ok(Math.abs(m.poseDistance!.value - 8 / S) < 0.02, `pose distance ${m.poseDistance!.value}`);
    // Same person in both: CSIM against the ground-truth frames is high, with the embedder noted.
    assert.equal(m.csim?.against, 'ground truth');
    assert.equal(m.csim?.framesWithFace, n);
    assert.ok(m.csim!.value > 0.7 && m.csim!.value <= 1 + 1e-6, `csim ${m.csim!.value}`);
    assert.match(m.notes.join('\n'), /embedded FaceRes/);

    // Against a reference photo, from an mp4 at twice the size (resized to the ground truth's, noted): the
    // reference is ground-truth frame 0 itself, so the first frame's CSIM is that of a face with itself.
    const twice = (im: Image): Image => {
      const data = new Uint8Array(4 * im.data.length);
      for (let y = 0; y < 2 * S; y++) for (let x = 0; x < 2 * S; x++) data.set(im.data.subarray(((y >> 1) * S + (x >> 1)) * 3, ((y >> 1) * S + (x >> 1)) * 3 + 3), (y * 2 * S + x) * 3);
      return { width: 2 * S, height: 2 * S, channels: 3, data };
    };
    await encodeVideo(join(dir, 'pred.mp4'), gt.map(twice), { fps: 8, crf: 0 });
    const big = await evaluateVideo(join(dir, 'pred.mp4'), join(dir, 'gt'), { ref: join(dir, 'gt', 'frame_0.png'), maxFrames: 1 });
    assert.equal(big.frames, 1);
    assert.match(big.notes.join('\n'), /prediction frames \(384x384\) resized to the ground truth's 192x192/);
    assert.ok(big.l1 < 0.02 && big.ssim > 0.9, `l1 ${big.l1} ssim ${big.ssim}`);
    assert.equal(big.csim?.against, 'reference');
    assert.ok(big.baseline && big.movingPsnr !== undefined, 'a reference gives the repeat-the-reference baseline');
    assert.ok(big.csim!.value > 0.97, `csim of a face with itself ${big.csim!.value}`);

    // The CLI writes the same numbers as JSON; a missing --fvd weights file is an error (FVD itself: i3d-fvd.test.ts).
    const out = join(dir, 'metrics.json');
    assert.equal(await main(['eval', '--pred', join(dir, 'pred'), '--gt', join(dir, 'gt'), '-o', out, '--no-csim', '--no-pose']), 0);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    assert.ok(Math.abs(written.ssim - m.ssim) < 1e-12 && Math.abs(written.l1 - m.l1) < 1e-12);
    assert.equal(written.csim, undefined);
    assert.equal(await main(['eval', '--pred', join(dir, 'pred'), '--gt', join(dir, 'gt'), '-o', out, '--fvd', join(dir, 'no-such-i3d.pt')]), 1);

    // A still video of the reference scores exactly the repeat-the-reference baseline, in chunks too.
    for (let i = 0; i < n; i++) await writeImage(join(dir, 'still', `frame_${i}.png`), pred[0]!);
    await writeImage(join(dir, 'ref.png'), pred[0]!);
    const still = await evaluateVideo(join(dir, 'still'), join(dir, 'gt'), { ref: join(dir, 'ref.png'), noCsim: true, chunk: 2 });
    assert.ok(still.baseline, 'baseline with --ref');
    for (const k of ['l1', 'psnr', 'ssim'] as const) assert.ok(Math.abs(still[k] - still.baseline![k]) < 1e-12, `${k} ${still[k]} vs ${still.baseline![k]}`);
    assert.equal(still.movingPsnr, still.baseline!.movingPsnr);
    assert.ok(still.movingFraction! > 0 && still.movingFraction! < 1, `moving fraction ${still.movingFraction}`);
    // the moved prediction (the same view shifted) is scored against the same baseline
    const moved = await evaluateVideo(join(dir, 'pred'), join(dir, 'gt'), { ref: join(dir, 'ref.png'), noCsim: true });
    for (const k of ['l1', 'psnr', 'ssim', 'movingPsnr'] as const) assert.ok(Math.abs(moved.baseline![k] - still.baseline![k]) < 1e-9, k);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

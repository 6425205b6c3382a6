// HJB face optimisation on tiny random models: the face loss goes down on the optimised latent at every active
// step, the Euler update uses the optimised x0, gradients reach only the latent, the loss is the reference's
// formula, the decode window is pluggable; and the face boxes it reads.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import { writeImage } from '../../src/io/image.ts';
import { StableAnimatorPipeline } from '../../src/pipeline/animate.ts';
import {
  clipBox, faceBoxFromPerson, faceBoxesFromMaskFolder, faceBoxesFromPoses, maskBox, scaleBox, type PixelBox,
} from '../../src/face/face-boxes.ts';
import { cropFaces, fullFrameWindow, HjbFaceOptimizer, toArcFaceRange, type HjbDecodeWindow } from '../../src/pipeline/hjb.ts';
import type { Keypoint, PersonPose } from '../../src/pose/keypoints.ts';
import { ID_DIM, randomImage, randomPoses, svdScheduler, tinyComponents } from './tiny.ts';
import * as nn from '../../src/nn/index.ts';
import { IResNet } from '../../src/models/face/iresnet.ts';

torch.setNumThreads(1);

const components = tinyComponents(0);
const box: PixelBox = [16, 8, 48, 44];
const frames = 4;
const reference = randomImage(64, 64, 1);
const target = { referenceBox: box, frameBoxes: [box, [20, 10, 50, 40], undefined, box] as (PixelBox | undefined)[] };

test('HJB lowers the face loss on the optimised latent at every active step, and only there', () => {
  const pipe = new StableAnimatorPipeline(components);
  const result = pipe.call(
    { reference, poses: randomPoses(frames, 64, 64, 2), faceEmbedding: torch.randn([ID_DIM], new torch.Generator(3)), faceTarget: target },
    { numInferenceSteps: 3, seed: 5, minGuidanceScale: 1, maxGuidanceScale: 1, hjb: { startStep: 0, endStep: 1, iterations: 3, trackLoss: true, decodeChunkSize: 2 } },
  );
  assert.deepEqual(result.hjb.map((r) => r.step), [0, 1]);
  for (const r of result.hjb) {
    assert.equal(r.losses.length, 3);
    assert.ok(r.finalLoss! < r.losses[0], `step ${r.step}: ${r.losses.join(', ')} -> ${r.finalLoss}`);
    console.log(`  step ${r.step} lr ${r.lr.toFixed(3)}: face loss ${r.losses.map((l) => l.toFixed(4)).join(' -> ')} -> ${r.finalLoss!.toFixed(4)}`);
  }
  assert.ok(Math.abs(result.hjb[0].lr - 0.1) < 1e-12);
  assert.ok(Math.abs(result.hjb[1].lr - 0.1 * (1 - 1 / 3)) < 1e-12);
  // no weight received a gradient: only the latent is optimised
  for (const m of [components.unet, components.vae, components.faceRecognizer]) assert.ok(m.parameters().every((p) => p.grad === undefined));
});

test('a recognizer with another input side (the miniature face-ID net, 32 px) gets crops of its size', () => {
  const small = nn.withInit({ seed: 4 }, () => new IResNet({ layers: [1, 1, 1, 1], widths: [8, 8, 16, 16], stem_width: 8, num_features: ID_DIM, input_size: 32 }));
  const hjb = new HjbFaceOptimizer(components.vae, small, reference, target, { iterations: 1, decodeChunkSize: 4, window: 'full' });
  const x0 = torch.randn([1, frames, 4, 8, 8], new torch.Generator(12));
  const manual = torch.noGrad(() => {
    const images = toArcFaceRange(components.vae.decode(x0.squeeze(0).div(components.vae.scalingFactor), frames));
    const { crops } = cropFaces(images, target.frameBoxes, 32)!;
    assert.deepEqual(crops.shape, [3, 3, 32, 32]);
    const refEmb = small.forward(cropFaces(toArcFaceRange(reference), [box], 32)!.crops);
    return torch.cosineSimilarity(small.forward(crops), refEmb.expand([3, -1]), 1).neg().add(1).abs().mean([]).item();
  });
  assert.ok(Math.abs(hjb.faceLoss(x0) - manual) < 1e-5, `${hjb.faceLoss(x0)} vs ${manual}`);
});

test('optimize (full window): Adam on x0 only, the loss is mean |1 − cos| over the frames with a face, the update is Euler from z0', () => {
  const { vae, faceRecognizer } = components;
  const hjb = new HjbFaceOptimizer(vae, faceRecognizer, reference, target, { iterations: 2, decodeChunkSize: 4, window: 'full' });
  const x0 = torch.randn([1, frames, 4, 8, 8], new torch.Generator(11));
  // the loss by hand: decode all frames as one clip, crop, ArcFace, cosine
  const manual = torch.noGrad(() => {
    const images = toArcFaceRange(vae.decode(x0.squeeze(0).div(vae.scalingFactor), frames));
    const { crops, count } = cropFaces(images, target.frameBoxes)!;
    assert.equal(count, 3);
    const refEmb = faceRecognizer.forward(cropFaces(toArcFaceRange(reference), [box])!.crops);
    return torch.cosineSimilarity(faceRecognizer.forward(crops), refEmb.expand([3, -1]), 1).neg().add(1).abs().mean([]).item();
  });
  assert.ok(Math.abs(hjb.faceLoss(x0) - manual) < 1e-5, `${hjb.faceLoss(x0)} vs ${manual}`);
  const { z0, report } = hjb.optimize(x0, 0, 25);
  assert.deepEqual(z0.shape, x0.shape);
  assert.ok(Math.abs(report.losses[0] - manual) < 1e-5);
  assert.ok(hjb.faceLoss(z0) < manual);
  assert.equal(z0.requiresGrad, false);
  // the temporal decoder mixes the frames of a chunk, so a frame without a face still moves; decoded one
  // frame at a time, it does not
  const single = new HjbFaceOptimizer(vae, faceRecognizer, reference, target, { iterations: 1, decodeChunkSize: 1, window: 'full' });
  const z1 = single.optimize(x0, 0, 25).z0;
  assert.ok(torch.noGrad(() => z0.select(1, 2).sub(x0.select(1, 2)).abs().max().item()) > 0);
  assert.equal(torch.noGrad(() => z1.select(1, 2).sub(x0.select(1, 2)).abs().max().item()), 0);
  assert.ok(torch.noGrad(() => z1.select(1, 1).sub(x0.select(1, 1)).abs().max().item()) > 0);
  // the scheduler's step with a refined x0 (as HJB hands it) is Euler from that x0: x + (x − z0)/σ·(σ' − σ)
  const stepAt1 = (opts = {}) => {
    const scheduler = svdScheduler();
    scheduler.setTimesteps(4);
    scheduler.setBeginIndex(1);
    return { scheduler, out: scheduler.step(torch.randn([1, frames, 4, 8, 8], new torch.Generator(13)), scheduler.timesteps[1]!, x, opts) };
  };
  const x = torch.randn([1, frames, 4, 8, 8], new torch.Generator(12)).mul(5);
  const { scheduler, out: step } = stepAt1();
  assert.equal(stepAt1({ refineOriginal: (p: torch.Tensor) => p }).out.prevSample.sub(step.prevSample).abs().max().item(), 0);
  const given = step.predOriginalSample.add(0.5);
  const refined = stepAt1({ refineOriginal: () => given }).out;
  const [s1, s2] = [scheduler.sigmas[1]!, scheduler.sigmas[2]!];
  const euler = x.add(x.sub(given).div(s1).mul(s2 - s1));
  assert.ok(refined.prevSample.sub(euler).abs().max().item() < 1e-5);
  assert.ok(refined.prevSample.sub(step.prevSample).abs().max().item() > 1e-3);
  hjb.dispose();
});

test('the decode window is pluggable: a window that crops around the faces gives the same loss', () => {
  const { vae, faceRecognizer } = components;
  // decode whole frames, then keep rows 4..60 only and shift the boxes
  const cropped: HjbDecodeWindow = {
    decode(v, latents, boxes) {
      const { images, boxes: b } = fullFrameWindow.decode(v, latents, boxes);
      return { images: images.narrow(2, 4, 56), boxes: b.map((x) => x && [x[0], x[1] - 4, x[2], x[3] - 4] as PixelBox) };
    },
  };
  const x0 = torch.randn([frames, 4, 8, 8], new torch.Generator(21));
  const full = new HjbFaceOptimizer(vae, faceRecognizer, reference, target, { window: 'full' });
  const windowed = new HjbFaceOptimizer(vae, faceRecognizer, reference, target, { window: cropped });
  assert.ok(Math.abs(full.faceLoss(x0) - windowed.faceLoss(x0)) < 1e-6);
  assert.throws(() => new HjbFaceOptimizer(vae, faceRecognizer, reference, target, { iterations: 0 }), /iterations/);
  assert.throws(() => new HjbFaceOptimizer(vae, faceRecognizer, reference, target, { startStep: 5, endStep: 2 }), /before startStep/);
  assert.throws(() => full.optimize(torch.zeros([3, 4, 8, 8]), 0, 10), /3 latent frames but 4 face boxes/);
});

function person(face: Keypoint[], body: Keypoint[] = Array(18).fill([0, 0, 0])): PersonPose {
  return { body, hands: [Array(21).fill([0, 0, 0]), Array(21).fill([0, 0, 0])], face };
}

test('face boxes: from face landmarks (widened, raised), from head points, from masks, scaled and clipped', () => {
  const face: Keypoint[] = Array.from({ length: 68 }, (_, i) => [0.4 + 0.2 * ((i % 10) / 9), 0.3 + 0.2 * (Math.floor(i / 10) / 6), 0.9]);
  const b = faceBoxFromPerson(person(face), 100, 200)!;
  // landmarks span x 40..60, y 60..100 (pixels): 10% wider on each side, 40% taller above, 5% below
  assert.deepEqual(b, [38, 44, 62, 102]);
  // too few landmarks: the head's body points
  const body: Keypoint[] = Array(18).fill([0, 0, 0]);
  body[0] = [0.5, 0.3, 0.9];
  body[14] = [0.45, 0.28, 0.9];
  body[15] = [0.55, 0.28, 0.9];
  const head = faceBoxFromPerson(person(Array(68).fill([0, 0, 0]), body), 100, 100)!;
  assert.ok(head[0] < 45 && head[2] > 55 && head[1] < 28 && head[3] > 30, `${head}`);
  assert.equal(faceBoxFromPerson(person(Array(68).fill([0, 0, 0])), 100, 100), undefined);
  // the largest face per frame, undefined without one
  const small = face.map(([x, y, s]) => [x / 2, y / 2, s] as Keypoint);
  const boxes = faceBoxesFromPoses([{ persons: [person(small), person(face)] }, { persons: [] }], 100, 200);
  assert.deepEqual(boxes, [b, undefined]);
  assert.deepEqual(clipBox([-5.5, 3.2, 70.1, 120], 64, 64), [0, 3, 64, 64]);
  assert.equal(clipBox([10, 10, 10.5, 30], 64, 64), undefined);
  assert.deepEqual(scaleBox([10, 20, 30, 40], [100, 100], [50, 200]), [5, 40, 15, 80]);
  const mask = { width: 8, height: 6, channels: 3 as const, data: new Uint8Array(8 * 6 * 3) };
  assert.equal(maskBox(mask), undefined);
  for (const [x, y] of [[2, 1], [5, 3], [3, 4]]) mask.data.fill(255, (y * 8 + x) * 3, (y * 8 + x) * 3 + 3);
  assert.deepEqual(maskBox(mask), [2, 1, 6, 5]);
});

test('face boxes from a mask folder are scaled to the output size', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-masks-'));
  try {
    const mask = { width: 32, height: 32, channels: 3 as const, data: new Uint8Array(32 * 32 * 3) };
    for (let y = 8; y < 16; y++) mask.data.fill(255, (y * 32 + 4) * 3, (y * 32 + 12) * 3);
    await writeImage(join(dir, 'frame_1.png'), mask);
    await writeImage(join(dir, 'frame_0.png'), { ...mask, data: new Uint8Array(32 * 32 * 3) });
    assert.deepEqual(await faceBoxesFromMaskFolder(dir, 64, 64), [undefined, [8, 16, 24, 32]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cropFaces resizes each box bilinearly to 112x112 (align_corners=False)', () => {
  const images = torch.arange(0, 2 * 3 * 16 * 16, 1, 'f32').reshape([2, 3, 16, 16]) as Tensor;
  const { crops, count } = cropFaces(images, [undefined, [4, 2, 8, 10]])!;
  assert.equal(count, 1);
  assert.deepEqual(crops.shape, [1, 3, 112, 112]);
  const direct = torch.interpolateBilinear(images.narrow(0, 1, 1).narrow(2, 2, 8).narrow(3, 4, 4), [112, 112], false);
  assert.equal(crops.sub(direct).abs().max().item(), 0);
  assert.equal(cropFaces(images, [undefined, undefined]), undefined);
});

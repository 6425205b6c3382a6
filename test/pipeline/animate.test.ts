// The animation pipeline end to end on tiny random components (64x64, 3-5 frames, 2-3 steps): determinism,
// windows, guidance, what the unconditional branch sees, the no-face path and the error paths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import { StableAnimatorPipeline, type AnimateInputs, type AnimateOptions } from '../../src/pipeline/animate.ts';
import type { UNetForwardOptions } from '../../src/models/svd/unet.ts';
import { ID_DIM, randomImage, randomPoses, tinyComponents } from './tiny.ts';

// tiny models: one thread avoids thread-pool stalls on a busy machine (and is faster at this size)
torch.setNumThreads(1);

const components = tinyComponents(0);
const pipe = new StableAnimatorPipeline(components);
const inputs = (frames = 3, face = true): AnimateInputs => ({
  reference: randomImage(64, 64, 1),
  poses: randomPoses(frames, 64, 64, 2),
  faceEmbedding: face ? torch.randn([ID_DIM], new torch.Generator(3)) : null,
});
const base: AnimateOptions = { numInferenceSteps: 2, seed: 7, minGuidanceScale: 2, maxGuidanceScale: 3 };
const maxDiff = (a: Tensor, b: Tensor) => a.sub(b).abs().max().item();

interface Call { frames: number; context: number; faces: number; pose: boolean; refLatent: number }

/** Records what every UNet call receives. */
function spyUnet<T>(fn: () => T): { result: T; calls: Call[] } {
  const unet = components.unet;
  const original = unet.forward.bind(unet);
  const calls: Call[] = [];
  unet.forward = (sample: Tensor, t: Tensor | number, ehs: Tensor, ids: Tensor, opts: UNetForwardOptions = {}) => {
    calls.push({
      frames: sample.size(1),
      context: ehs.narrow(1, 0, 1).abs().max().item(),
      faces: ehs.narrow(1, 1, 4).abs().max().item(),
      pose: opts.poseLatents !== undefined,
      refLatent: sample.narrow(2, 4, 4).abs().max().item(),
    });
    return original(sample, t, ehs, ids, opts);
  };
  try {
    return { result: fn(), calls };
  } finally {
    unet.forward = original;
  }
}

test('seeded runs are deterministic; another seed gives another video', () => {
  const a = pipe.call(inputs(), base);
  const b = pipe.call(inputs(), base);
  assert.deepEqual(a.frames!.shape, [3, 3, 64, 64]);
  assert.deepEqual(a.latents.shape, [1, 3, 4, 8, 8]);
  assert.equal(maxDiff(a.frames!, b.frames!), 0);
  assert.ok(a.frames!.min().item() >= 0 && a.frames!.max().item() <= 1);
  const c = pipe.call(inputs(), { ...base, seed: 8 });
  assert.ok(maxDiff(a.frames!, c.frames!) > 1e-3);
  // an explicit generator is the same as its seed
  const d = pipe.call(inputs(), { ...base, generator: new torch.Generator(7) });
  assert.equal(maxDiff(a.frames!, d.frames!), 0);
  // outputType 'latents' stops before the decode, with the same latents
  const e = pipe.call(inputs(), { ...base, outputType: 'latents' });
  assert.equal(e.frames, undefined);
  assert.equal(maxDiff(a.latents, e.latents), 0);
});

test('the unconditional branch gets zero CLIP and face tokens, a zero reference latent and no pose', () => {
  const { calls } = spyUnet(() => pipe.call(inputs(), base));
  assert.equal(calls.length, 2 * 2); // 2 steps x (cond + uncond), one window
  const cond = calls.filter((c) => c.context > 0);
  const uncond = calls.filter((c) => c.context === 0);
  assert.equal(cond.length, 2);
  assert.equal(uncond.length, 2);
  for (const c of cond) assert.ok(c.pose && c.faces > 0 && c.refLatent > 0, JSON.stringify(c));
  for (const u of uncond) assert.ok(!u.pose && u.faces === 0 && u.refLatent === 0, JSON.stringify(u));
});

test('guidance 1.0 runs the conditional pass alone and equals CFG at scale 1', () => {
  const one = spyUnet(() => pipe.call(inputs(), { ...base, minGuidanceScale: 1, maxGuidanceScale: 1 }));
  assert.equal(one.calls.length, 2);
  assert.ok(one.calls.every((c) => c.context > 0 && c.pose));
  // the two-pass path at (almost exactly) scale 1: uncond + 1·(cond − uncond)
  const cfg = spyUnet(() => pipe.call(inputs(), { ...base, minGuidanceScale: 1, maxGuidanceScale: 1 + 1e-7 }));
  assert.equal(cfg.calls.length, 4);
  assert.ok(maxDiff(one.result.frames!, cfg.result.frames!) < 1e-4, `${maxDiff(one.result.frames!, cfg.result.frames!)}`);
});

test('a single window equals tiling with tile >= frames; longer videos are windowed with the anchor frame', () => {
  const opts = { ...base, minGuidanceScale: 1, maxGuidanceScale: 1 };
  const exact = pipe.call(inputs(3), { ...opts, tileSize: 3, tileOverlap: 1 });
  const longer = pipe.call(inputs(3), { ...opts, tileSize: 16, tileOverlap: 4 });
  assert.equal(maxDiff(exact.frames!, longer.frames!), 0);
  // 6 frames in windows of 4 overlapping by 2: [0,1,2,3], [0,3,4,5] (frame 3 blended)
  const { result, calls } = spyUnet(() => pipe.call(inputs(6), { ...opts, tileSize: 4, tileOverlap: 2 }));
  assert.deepEqual(calls.map((c) => c.frames), [4, 4, 4, 4]);
  assert.deepEqual(result.frames!.shape, [6, 3, 64, 64]);
  // ControlNeXt-style latent averaging: same windows, another blend
  const averaged = pipe.call(inputs(6), { ...opts, tileSize: 4, tileOverlap: 2, blend: 'latents' });
  assert.ok(maxDiff(result.frames!, averaged.frames!) > 1e-4);
});

test('the initial noise is one window of noise repeated over the video', () => {
  // with the model output forced to zero, x0 = x/(σ²+1) and the latents stay proportional to the noise
  const unet = components.unet;
  const original = unet.forward.bind(unet);
  unet.forward = (sample: Tensor) => torch.zeros([1, sample.size(1), 4, sample.size(3), sample.size(4)]);
  try {
    const r = pipe.call(inputs(5), { ...base, numInferenceSteps: 1, tileSize: 2, tileOverlap: 1 });
    const z = r.latents.squeeze(0);
    assert.ok(maxDiff(z.select(0, 0), z.select(0, 2)) < 1e-6);
    assert.ok(maxDiff(z.select(0, 1), z.select(0, 3)) < 1e-6);
    assert.ok(maxDiff(z.select(0, 0), z.select(0, 1)) > 1e-3);
  } finally {
    unet.forward = original;
  }
});

test('no face: zero face tokens and a warning; zero-embedding mode feeds the Face Encoder zeros instead', () => {
  const warnings: string[] = [];
  const { result, calls } = spyUnet(() => pipe.call(inputs(3, false), { ...base, onWarning: (m) => warnings.push(m) }));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /no face/);
  assert.deepEqual(result.warnings, warnings);
  assert.ok(calls.every((c) => c.faces === 0));
  assert.ok(calls.some((c) => c.context > 0));
  const zeroEmb = spyUnet(() => pipe.call(inputs(3, false), { ...base, missingFace: 'zero-embedding' }));
  assert.ok(zeroEmb.calls.some((c) => c.faces > 0));
});

test('progress reports every step with an ETA, then the decode', () => {
  const seen: string[] = [];
  pipe.call(inputs(), { ...base, numInferenceSteps: 3, onProgress: (p) => seen.push(`${p.phase} ${p.step}/${p.total} ${p.etaSeconds >= 0}`) });
  assert.deepEqual(seen, ['denoise 1/3 true', 'denoise 2/3 true', 'denoise 3/3 true', 'decode 1/1 true']);
});

test('live preview: the first frame of each step\'s clean estimate while cheap; the video is unchanged', () => {
  const plain = pipe.call(inputs(), { ...base, numInferenceSteps: 3 });
  const previews: { step: number; shape: number[]; device: string; min: number; max: number }[] = [];
  const ins = inputs();
  const before = torch.liveTensors();
  const withPreview = pipe.call(ins, {
    ...base, numInferenceSteps: 3,
    onPreviewFrame: (f, step) => previews.push({ step, shape: f.shape, device: f.device, min: f.min().item(), max: f.max().item() }),
  });
  assert.equal(torch.liveTensors() - before, 2, 'the preview frames are freed');
  assert.equal(maxDiff(plain.frames!, withPreview.frames!), 0);
  assert.ok(previews.length >= 1 && previews.length <= 3, `${previews.length} previews`);
  assert.deepEqual(previews.map((p) => p.step), [1, 2, 3].slice(0, previews.length));
  for (const p of previews) {
    assert.deepEqual([p.shape, p.device], [[3, 64, 64], 'cpu']);
    assert.ok(p.min >= 0 && p.max <= 1 && p.max > p.min, `${p.min}..${p.max}`);
  }
});

test('no tensor leaks: a call leaves only its results', () => {
  pipe.call(inputs(), base);
  const ins = inputs();
  const before = torch.liveTensors();
  const r = pipe.call(ins, base);
  assert.equal(torch.liveTensors() - before, 2);
  r.frames!.dispose();
  r.latents.dispose();
});

test('errors: unsupported sizes, mismatched poses, bad embeddings, HJB without its models or boxes, bad windows', () => {
  const ok = inputs();
  assert.throws(() => pipe.call({ ...ok, reference: randomImage(64, 96, 1), poses: randomPoses(3, 64, 96, 2) }, base), /multiples of 64/);
  assert.throws(() => pipe.call({ ...ok, poses: randomPoses(3, 128, 64, 2) }, base), /poses must be \[frames,3,64,64\]/);
  assert.throws(() => pipe.call({ ...ok, reference: torch.zeros([2, 3, 64, 64]) }, base), /reference must be/);
  assert.throws(() => pipe.call({ ...ok, faceEmbedding: torch.zeros([7]) }, base), /7 values, the Face Encoder takes 16/);
  assert.throws(() => pipe.call(ok, { ...base, numInferenceSteps: 0 }), /positive integer/);
  assert.throws(() => pipe.call(ok, { ...base, tileSize: 4, tileOverlap: 4 }), /overlap/);
  // without overlap the reference's windows (anchor + T−1 frames, stride T) skip frames
  assert.throws(() => pipe.call(inputs(5), { ...base, tileSize: 2, tileOverlap: 0 }), /frame 2 is in no window/);
  assert.throws(() => pipe.call(ok, { ...base, hjb: {} }), /needs face boxes/);
  const noArcface = new StableAnimatorPipeline({ ...components, faceRecognizer: undefined });
  assert.throws(() => noArcface.call(ok, { ...base, hjb: {} }), /recognizer/);
  const boxes = { referenceBox: [8, 8, 40, 40] as [number, number, number, number], frameBoxes: [undefined, undefined] };
  assert.throws(() => pipe.call({ ...ok, faceTarget: boxes }, { ...base, hjb: {} }), /2 HJB face boxes for 3 frames/);
  assert.throws(() => pipe.call({ ...ok, faceTarget: { ...boxes, frameBoxes: [undefined, undefined, undefined] } }, { ...base, hjb: {} }), /no frame has a face box/);
});

test('batched guidance and windows: fewer UNet calls, the same video up to summation order', () => {
  const opts = { ...base, tileSize: 4, tileOverlap: 2 };
  const { result: one, calls: perWindow } = spyUnet(() => pipe.call(inputs(6), opts));
  assert.equal(perWindow.length, 2 * 2 * 2); // 2 steps x 2 windows x (cond + uncond)
  const unet = components.unet;
  const original = unet.forward.bind(unet);
  const batches: number[] = [];
  unet.forward = (sample: Tensor, t: Tensor | number, ehs: Tensor, ids: Tensor, o: UNetForwardOptions = {}) => {
    batches.push(sample.size(0));
    // the unconditional half gets zero pose features, zero tokens and a zero reference latent
    if (sample.size(0) === 4) {
      assert.equal(o.poseLatents!.narrow(0, 2 * 4, 2 * 4).abs().max().item(), 0);
      assert.equal(ehs.narrow(0, 2, 2).abs().max().item(), 0);
      assert.equal(sample.narrow(0, 2, 2).narrow(2, 4, 4).abs().max().item(), 0);
    }
    return original(sample, t, ehs, ids, o);
  };
  try {
    const batched = pipe.call(inputs(6), { ...opts, batchGuidance: true, windowsPerCall: 2 });
    assert.deepEqual(batches, [4, 4], 'one call per step: 2 windows x 2 branches');
    // a batch of 4 rounds its GEMMs otherwise than 4 batches of 1 (5e-6 of a UNet output here); guidance 3 and
    // the random tiny UNet amplify that over the steps (on the trained miniature the videos agree to 5e-7)
    assert.ok(maxDiff(one.frames!, batched.frames!) < 2e-3, `${maxDiff(one.frames!, batched.frames!)}`);
    batches.length = 0;
    const cfgOnly = pipe.call(inputs(6), { ...opts, batchGuidance: true });
    assert.deepEqual(batches, [2, 2, 2, 2]);
    assert.ok(maxDiff(one.frames!, cfgOnly.frames!) < 2e-3);
  } finally {
    unet.forward = original;
  }
});

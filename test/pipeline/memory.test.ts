// Memory options of the pipeline (pipeline/placement.ts, the decode of pipeline/animate.ts): where each model
// runs and rests, CPU offload (on this CPU-only machine the moves are no-ops: the test checks each stage sees
// its models where the placement says and that offload changes nothing in the output), and a decode that runs
// out of memory retried with half the chunk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { StableAnimatorPipeline, smallerDecodeChunk, type AnimateInputs, type AnimateOptions, type PipelineStage } from '../../src/pipeline/animate.ts';
import { deviceOf, MODEL_NAMES, placementOf, restingDevice, withModels, type ModelName } from '../../src/pipeline/placement.ts';
import { ID_DIM, randomImage, randomPoses, tinyComponents } from './tiny.ts';

torch.setNumThreads(1);

const components = tinyComponents(0);
const inputs = (frames: number): AnimateInputs => ({
  reference: randomImage(64, 64, 1),
  poses: randomPoses(frames, 64, 64, 2),
  faceEmbedding: torch.randn([ID_DIM], new torch.Generator(3)),
});
const base: AnimateOptions = { numInferenceSteps: 2, seed: 7 };

test('placement: run devices per model, resting on the CPU with offload', () => {
  const p = placementOf({ device: 'cuda:0', vaeDevice: 'cuda:1', imageEncoderDevice: 'cpu', offload: true });
  assert.deepEqual(p.run, { unet: 'cuda:0', poseNet: 'cuda:0', faceEncoder: 'cuda:0', faceRecognizer: 'cuda:0', vae: 'cuda:1', imageEncoder: 'cpu' });
  assert.deepEqual(MODEL_NAMES.map((m) => restingDevice(p, m)), MODEL_NAMES.map(() => 'cpu'));
  const resident = placementOf({ device: 'cuda:0', vaeDevice: 'cpu' });
  assert.equal(restingDevice(resident, 'unet'), 'cuda:0');
  assert.equal(restingDevice(resident, 'vae'), 'cpu');
  assert.deepEqual(placementOf().run.unet, 'cpu');
});

test('offload: each stage runs with its models placed, the output is bit-identical, the models rest on the CPU after', () => {
  const plain = new StableAnimatorPipeline(components).call(inputs(3), base);
  const seen: { stage: PipelineStage; devices: Partial<Record<ModelName, string>> }[] = [];
  const offloaded = new StableAnimatorPipeline({ ...components, placement: placementOf({ offload: true }) })
    .call(inputs(3), { ...base, onPlaced: (stage, devices) => seen.push({ stage, devices }) });
  assert.equal(plain.frames!.sub(offloaded.frames!).abs().max().item(), 0);
  assert.equal(plain.latents.sub(offloaded.latents).abs().max().item(), 0);
  assert.deepEqual(seen.map((s) => s.stage), ['clip', 'face-encoder', 'vae-encode', 'denoise', 'decode']);
  for (const s of seen) assert.deepEqual(Object.keys(s.devices).sort(), ['faceEncoder', 'faceRecognizer', 'imageEncoder', 'poseNet', 'unet', 'vae'], s.stage);
  for (const s of seen) for (const d of Object.values(s.devices)) assert.equal(d, 'cpu');
  for (const m of MODEL_NAMES) assert.equal(deviceOf(components[m]), 'cpu', m);
});

test('withModels moves back even when the stage throws, and reports every model it holds', () => {
  const p = placementOf({ offload: true });
  let reported: Partial<Record<ModelName, string>> = {};
  assert.throws(() => withModels({ vae: components.vae }, p, ['vae', 'unet'], 'decode', () => { throw new Error('stage failed'); }, (_, d) => { reported = d; }), /stage failed/);
  assert.deepEqual(reported, { vae: 'cpu' });
  assert.equal(deviceOf(components.vae), 'cpu');
});

test('out of memory: a real engine allocation failure is recognised; other errors are not', () => {
  let oom: unknown;
  try {
    torch.empty([2 ** 50], 'f32');
  } catch (e) {
    oom = e;
  }
  assert.ok(oom instanceof Error, 'a 4 PiB tensor cannot be allocated');
  assert.ok(torch.isOutOfMemoryError(oom), (oom as Error).message);
  // libtorch's CUDA allocator's wording (c10/cuda/CUDACachingAllocator.cpp), as the addon passes it on
  assert.ok(torch.isOutOfMemoryError(new Error('aten::cat(...): CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity)')));
  assert.ok(!torch.isOutOfMemoryError(new Error('aten::cat(...): Sizes of tensors must match')));
  assert.deepEqual([8, 5, 2, 1].map(smallerDecodeChunk), [4, 3, 1, undefined]);
});

test('a decode that runs out of memory is retried with half the chunk, says so, and gives the smaller chunk\'s frames', () => {
  const vae = components.vae;
  const decode = vae.decode.bind(vae);
  const chunks: number[] = [];
  // the seam: a decoder that cannot hold more than 2 frames at once fails as the engine does, with a real
  // allocation failure (an impossible tensor), before decoding
  vae.decode = ((latents: torch.Tensor, numFrames: number) => {
    chunks.push(numFrames);
    if (numFrames > 2) torch.empty([2 ** 50], 'f32');
    return decode(latents, numFrames);
  }) as typeof vae.decode;
  try {
    const pipe = new StableAnimatorPipeline(components);
    const warnings: string[] = [];
    const retried = pipe.call(inputs(6), { ...base, decodeChunkSize: 6, onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, [
      'decoding 6 frame(s) at a time ran out of memory on cpu; retrying 3 at a time (--decode-chunk 3)',
      'decoding 3 frame(s) at a time ran out of memory on cpu; retrying 2 at a time (--decode-chunk 2)',
    ]);
    assert.deepEqual(retried.warnings, warnings);
    assert.deepEqual(chunks, [6, 3, 2, 2, 2]);
    const direct = pipe.call(inputs(6), { ...base, decodeChunkSize: 2 });
    assert.equal(retried.frames!.sub(direct.frames!).abs().max().item(), 0);
    // at one frame a chunk there is nothing left to halve: the error comes through
    vae.decode = (() => torch.empty([2 ** 50], 'f32')) as typeof vae.decode;
    assert.throws(() => pipe.call(inputs(2), { ...base, decodeChunkSize: 2 }), /CPU out of memory/);
    // an error that is not about memory is not retried
    let calls = 0;
    vae.decode = (() => { calls++; throw new Error('broken decoder'); }) as typeof vae.decode;
    assert.throws(() => pipe.call(inputs(2), base), /broken decoder/);
    assert.equal(calls, 1);
  } finally {
    vae.decode = decode;
  }
});

test('animate: --vae-device and --image-encoder-device are checked, and HJB keeps the VAE with the UNet, before any input is read', async () => {
  const { runAnimate } = await import('../../src/cli/animate.ts');
  const args = ['--ref', '/nonexistent/ref.png', '--driving', '/nonexistent/poses', '-o', '/tmp/never-written.mp4'];
  await assert.rejects(runAnimate([...args, '--vae-device', 'tpu']), /--vae-device must be cpu, cuda or cuda:N, got 'tpu'/);
  await assert.rejects(runAnimate([...args, '--image-encoder-device', 'gpu0']), /--image-encoder-device must be cpu, cuda or cuda:N, got 'gpu0'/);
  await assert.rejects(runAnimate([...args, '--hjb', '--device', 'cuda', '--vae-device', 'cpu']), /--hjb needs the VAE where the UNet runs: --vae-device cpu differs from --device cuda:0/);
  // the pipeline refuses the same placement given through the library
  const pipe = new StableAnimatorPipeline({ ...components, placement: placementOf({ device: 'cpu', vaeDevice: 'cuda:0', offload: true }) });
  assert.throws(() => pipe.call(inputs(2), { ...base, hjb: { startStep: 0, endStep: 0, iterations: 1, lr: 0.1 } }), /HJB face optimisation needs the VAE where the UNet runs \(cpu\), not on cuda:0/);
});

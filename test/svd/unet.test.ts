// The SVD UNet against diffusers' UNetSpatioTemporalConditionModel (fixture unet_svd_tiny: the exact
// SVD block structure at width 32, F16 weights widened to f32), plus StableAnimator's hooks
// (pose latents, face tokens, attn2 processors), loading errors and gradient checkpointing.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { readSafetensors } from '../../src/torch/serialization/index.ts';
import { Attention, DEFAULT_MAX_SCORE_ELEMENTS, type AttentionProcessor } from '../../src/models/svd/attention.ts';
import { DEFAULT_FF_CHUNK_ELEMENTS } from '../../src/models/svd/feed-forward.ts';
import { sinusoidalEmbedding } from '../../src/models/svd/timesteps.ts';
import { UNetSpatioTemporalConditionModel } from '../../src/models/svd/unet.ts';
import { FIXTURES, loadFixture, relError } from '../fixture.ts';

const DIR = join(FIXTURES, 'unet_svd_tiny');

const load = (file: string): Map<string, Tensor> => loadFixture('unet_svd_tiny', file);


/** The fixture as a diffusers folder (the F16 weights under the fp16 variant name) in a temp dir. */
function withFolder<T>(fn: (dir: string) => T, weightsName = 'diffusion_pytorch_model.fp16.safetensors'): T {
  const dir = mkdtempSync(join(tmpdir(), 'svd-unet-'));
  try {
    copyFileSync(join(DIR, 'config.json'), join(dir, 'config.json'));
    copyFileSync(join(DIR, 'weights.safetensors'), join(dir, weightsName));
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const unet = withFolder((dir) => UNetSpatioTemporalConditionModel.fromPretrained(dir, { dtype: 'f32' }));
const inputs = load('inputs.safetensors');
const input = (k: string) => inputs.get(k)!;
const reference = load('output.safetensors').get('sample')!;
const run = (model: UNetSpatioTemporalConditionModel, ehs = input('encoder_hidden_states'), opts = {}) =>
  torch.noGrad(() => model.forward(input('sample'), input('timestep'), ehs, input('added_time_ids'), opts));

test('sinusoidal embedding: flip_sin_to_cos, shift 0, odd width padded', () => {
  const e = sinusoidalEmbedding(torch.tensor([0, 2]), 5, { flipSinToCos: true, downscaleFreqShift: 0 });
  assert.deepEqual(e.shape, [2, 5]);
  const v = e.toArray();
  const f1 = Math.exp(-Math.log(10000) / 2);
  const want = [1, 1, 0, 0, 0, Math.cos(2), Math.cos(2 * f1), Math.sin(2), Math.sin(2 * f1), 0];
  v.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-6, `element ${i}: ${x} vs ${want[i]}`));
});

test('unet_svd_tiny: fromPretrained (fp16 variant -> f32) matches diffusers to 1e-4 of max|ref|', () => {
  assert.equal(unet.numParameters(), 2_010_058);
  assert.equal(unet.stateDict().size, 1424);
  assert.ok(unet.parameters().every((p) => p.dtype === 'f32'));
  assert.equal(unet.training, false);
  const out = run(unet);
  const ratio = relError(out, reference);
  console.log(`  unet_svd_tiny: max|ours-ref| / max|ref| = ${ratio.toExponential(3)} (max|ref| ${reference.abs().max().item().toFixed(4)})`);
  assert.ok(ratio <= 1e-4, `ratio ${ratio}`);
});

test('a scalar timestep, a zeros image-only indicator and zero pose latents give the same result', () => {
  const base = run(unet);
  const t = input('timestep').item();
  const same = torch.noGrad(() => unet.forward(input('sample'), t, input('encoder_hidden_states'), input('added_time_ids'), {
    imageOnlyIndicator: torch.zeros([1, 3]), poseLatents: torch.zeros([3, 32, 16, 16]),
  }));
  assert.ok(relError(same, base) < 1e-6);
  // frames flagged as still images switch the temporal mixing off: a different result
  const still = run(unet, input('encoder_hidden_states'), { imageOnlyIndicator: torch.ones([1, 3]) });
  assert.ok(relError(still, base) > 1e-3);
});

test('pose latents are added to the conv_in output', () => {
  const pose = torch.randn([3, 32, 16, 16], new torch.Generator(5)).mul(0.5);
  const viaOption = run(unet, input('encoder_hidden_states'), { poseLatents: pose });
  assert.ok(relError(viaOption, run(unet)) > 1e-3);
  // the same as adding them to conv_in's output by hand
  const convIn = unet.conv_in;
  const original = convIn.forward.bind(convIn);
  convIn.forward = (x: Tensor) => original(x).add(pose);
  try {
    assert.ok(relError(run(unet), viaOption) < 1e-6);
  } finally {
    convIn.forward = original;
  }
});

test('attention and feed-forward chunking under small memory limits give the same result', () => {
  const base = run(unet);
  unet.setMemoryLimits({ maxScoreElements: 2 ** 13, maxFeedForwardElements: 2 ** 14 });
  try {
    // equal up to the summation order of differently blocked matrix products
    const ratio = relError(run(unet), base);
    assert.ok(ratio < 1e-5, `ratio ${ratio}`);
  } finally {
    unet.setMemoryLimits({ maxScoreElements: DEFAULT_MAX_SCORE_ELEMENTS, maxFeedForwardElements: DEFAULT_FF_CHUNK_ELEMENTS });
  }
});

test('no tensor leaks from a forward pass', () => {
  run(unet).dispose();
  const before = torch.liveTensors();
  const out = run(unet);
  assert.equal(torch.liveTensors() - before, 1);
  out.dispose();
});

test('spatial sizes not divisible by 8 follow the skip connections', () => {
  const sample = torch.randn([1, 2, 8, 18, 13], new torch.Generator(3));
  const out = torch.noGrad(() => unet.forward(sample, 0.3, input('encoder_hidden_states'), input('added_time_ids')));
  assert.deepEqual(out.shape, [1, 2, 4, 18, 13]);
});

/** Plain attention over all but the trailing face tokens (to compare with SVD on the context only). */
class ContextOnly extends nn.Module implements AttentionProcessor {
  seen: number[] = [];
  constructor(readonly faces: number) { super(); }
  forward(attn: Attention, hidden: Tensor, ehs?: Tensor): Tensor {
    this.seen.push(ehs!.size(1));
    return attn.plainAttention(hidden, ehs!.narrow(1, 0, ehs!.size(1) - this.faces));
  }
}

test('StableAnimator hooks: 16 spatial attn2 processors see all tokens, temporal blocks skip the face tokens', () => {
  const sa = withFolder((dir) => UNetSpatioTemporalConditionModel.fromPretrained(dir, { numFaceTokens: 4 }));
  const procs: ContextOnly[] = [];
  const n = sa.setSpatialCrossAttentionProcessors(() => { const p = new ContextOnly(4); procs.push(p); return p; });
  assert.equal(n, 16);
  assert.equal(sa.spatialCrossAttentions().length, 16);
  assert.ok(sa.spatialCrossAttentions().every(([name]) => !name.includes('temporal')));
  const temporalTokens: number[] = [];
  for (const [name, m] of sa.modules()) {
    if (name.endsWith('temporal_transformer_blocks.0.attn2')) {
      const attn = m as Attention;
      const original = attn.forward.bind(attn);
      attn.forward = (h: Tensor, e?: Tensor) => { temporalTokens.push(e!.size(1)); return original(h, e); };
    }
  }
  const faces = torch.randn([1, 4, 32], new torch.Generator(9));
  const ehs = torch.cat([input('encoder_hidden_states'), faces], 1);
  const out = run(sa, ehs);
  assert.ok(procs.every((p) => p.seen.length === 1 && p.seen[0] === 5));
  assert.equal(temporalTokens.length, 16);
  assert.ok(temporalTokens.every((t) => t === 1));
  // ignoring the face tokens everywhere reproduces SVD on the context token alone
  assert.ok(relError(out, reference) <= 1e-4);
  // removing the processors restores plain attention
  sa.setSpatialCrossAttentionProcessors(() => undefined);
  assert.ok(sa.spatialCrossAttentions().every(([, a]) => a.processor === undefined));
  assert.ok(![...sa.stateDict().keys()].some((k) => k.includes('processor')));
});

test('fromPretrained and fromConfig report bad folders clearly', () => {
  assert.throws(() => UNetSpatioTemporalConditionModel.fromPretrained('/nonexistent/unet'), /does not exist/);
  const dir = mkdtempSync(join(tmpdir(), 'svd-bad-'));
  try {
    assert.throws(() => UNetSpatioTemporalConditionModel.fromPretrained(dir), /no config\.json/);
    writeFileSync(join(dir, 'config.json'), '{"_class_name": "AutoencoderKLTemporalDecoder"}');
    assert.throws(() => UNetSpatioTemporalConditionModel.fromPretrained(dir), /describes a AutoencoderKLTemporalDecoder/);
    copyFileSync(join(DIR, 'config.json'), join(dir, 'config.json'));
    writeFileSync(join(dir, 'diffusion_pytorch_model.bin'), '');
    assert.throws(() => UNetSpatioTemporalConditionModel.fromPretrained(dir), /no diffusion_pytorch_model\.safetensors.*\.bin/);
    // weights of another model: every mismatch listed before any data is read
    copyFileSync(join(DIR, '..', 'vae_temporal_tiny', 'weights.safetensors'), join(dir, 'diffusion_pytorch_model.safetensors'));
    assert.throws(() => UNetSpatioTemporalConditionModel.fromPretrained(dir), /missing keys \(1424\).*\n.*unexpected keys \(161\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => new UNetSpatioTemporalConditionModel({ block_out_channels: [32, 32] }), /block_out_channels/);
  assert.throws(() => UNetSpatioTemporalConditionModel.fromConfig({ down_block_types: ['X', 'X', 'X', 'X'] }), /unsupported down block type 'X'/);
  assert.throws(() => unet.forward(torch.zeros([3, 8, 16, 16]), 0, input('encoder_hidden_states'), input('added_time_ids')), /sample must be/);
});

test('gradient checkpointing gives the same gradients (attention weights trained, as StableAnimator)', () => {
  const model = withFolder((dir) => UNetSpatioTemporalConditionModel.fromPretrained(dir));
  model.train();
  for (const [k, p] of model.namedParameters()) p.requiresGrad_(k.includes('attentions'));
  const sample = input('sample').clone().requiresGrad_();
  const grads = () => {
    model.zeroGrad();
    sample.grad = undefined;
    const out = model.forward(sample, input('timestep'), input('encoder_hidden_states'), input('added_time_ids'));
    out.square().mean([]).backward();
    return [sample.grad!, ...model.parameters().filter((p) => p.requiresGrad).map((p) => p.grad!)];
  };
  const plain = grads();
  model.enableGradientCheckpointing(true);
  let calls = 0;
  const resnet = model.down_blocks.at(0).resnets.at(0);
  const original = resnet.forward.bind(resnet);
  resnet.forward = (...args) => { calls++; return original(...args); };
  const ckpt = grads();
  assert.equal(calls, 2, 'the resnet ran again in backward');
  assert.equal(plain.length, 913);
  assert.ok(ckpt.every((g) => g !== undefined), 'every trainable weight has a gradient');
  // relative to the largest gradient: some biases (before a GroupNorm) have gradients at rounding level
  const scale = Math.max(...plain.map((g) => g.abs().max().item()));
  const diff = Math.max(...plain.map((g, i) => g.sub(ckpt[i]).abs().max().item()));
  console.log(`  checkpointing: max|Δgrad| / max|grad| = ${(diff / scale).toExponential(3)}`);
  assert.ok(diff <= 1e-5 * scale, `${diff} vs ${scale}`);
  // frozen input and frozen resnets: the attention weights inside checkpointed blocks still get gradients
  model.zeroGrad();
  const out = model.forward(input('sample'), input('timestep'), input('encoder_hidden_states'), input('added_time_ids'));
  out.square().mean([]).backward();
  const frozenInput = model.parameters().filter((p) => p.requiresGrad).map((p) => p.grad);
  assert.ok(frozenInput.every((g, i) => g && g.sub(plain[i + 1]).abs().max().item() <= 1e-5 * scale));
  model.enableGradientCheckpointing(false).eval();
});

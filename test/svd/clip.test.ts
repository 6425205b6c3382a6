import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { readSafetensors, writeSafetensors } from '../../src/torch/serialization/index.ts';
import {
  CLIP_VIT_H14, CLIPVisionModelWithProjection, clipVisionConfigFromJson,
} from '../../src/models/svd/clip-vision.ts';
import {
  antialiasBlur, CLIP_IMAGE_MEAN, CLIP_IMAGE_STD, clipPreprocess, gaussianKernel1d, resizeWithAntialiasing,
} from '../../src/models/svd/image-preprocess.ts';
import { FIXTURES, loadFixture, relError } from '../fixture.ts';

const DIR = join(FIXTURES, 'clip_vision_tiny');

const load = (file: string): Map<string, Tensor> => loadFixture('clip_vision_tiny', file);


const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

function tinyModel(): CLIPVisionModelWithProjection {
  const config = clipVisionConfigFromJson(readJson(join(DIR, 'config.json')));
  const model = nn.withInit({ device: 'meta' }, () => new CLIPVisionModelWithProjection(config));
  model.loadStateDict(load('weights.safetensors'), { assign: true });
  return model;
}

test('tiny CLIP vision tower: image_embeds and last_hidden_state match transformers', () => {
  const model = tinyModel();
  assert.equal(model.numParameters(), 45056);
  const out = model.forward(load('inputs.safetensors').get('pixel_values')!);
  const ref = load('output.safetensors');
  const embeds = relError(out.imageEmbeds, ref.get('image_embeds')!);
  const hidden = relError(out.lastHiddenState, ref.get('last_hidden_state')!);
  assert.ok(embeds <= 1e-5, `image_embeds relative error ${embeds}`);
  assert.ok(hidden <= 1e-5, `last_hidden_state relative error ${hidden}`);
});

test('fromPretrained reads config.json + model.safetensors from a folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-'));
  try {
    // a transformers folder: config.json and the weights under their released file name
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...readJson(join(DIR, 'config.json')), architectures: ['CLIPVisionModelWithProjection'], torch_dtype: 'float32' }));
    copyFileSync(join(DIR, 'weights.safetensors'), join(dir, 'model.safetensors'));
    const model = CLIPVisionModelWithProjection.fromPretrained(dir);
    assert.equal(model.visual_projection.weight.dtype, 'f32');
    assert.equal(model.training, false);
    const out = model.forward(load('inputs.safetensors').get('pixel_values')!);
    assert.ok(relError(out.imageEmbeds, load('output.safetensors').get('image_embeds')!) <= 1e-5);
    // older checkpoints carry the non-persistent position_ids buffer: it is skipped
    const raw = readSafetensors(join(DIR, 'weights.safetensors'));
    const ids = torch.arange(0, 5, 1, 'i64').reshape([1, 5]);
    raw.set('vision_model.embeddings.position_ids', ids.raw());
    writeSafetensors(join(dir, 'model.safetensors'), raw);
    const older = CLIPVisionModelWithProjection.fromPretrained(dir);
    assert.equal(older.stateDict().size, raw.size - 1);
    assert.ok(relError(older.forward(load('inputs.safetensors').get('pixel_values')!).imageEmbeds, load('output.safetensors').get('image_embeds')!) <= 1e-5);
    // the fp16 variant is preferred for dtype 'f16'; parameters come out in the asked dtype
    rmSync(join(dir, 'model.safetensors'));
    copyFileSync(join(DIR, 'weights.safetensors'), join(dir, 'model.fp16.safetensors'));
    const half = CLIPVisionModelWithProjection.fromPretrained(dir, { dtype: 'f16' });
    assert.ok(half.parameters().every((p) => p.dtype === 'f16'));
    rmSync(join(dir, 'model.fp16.safetensors'));
    assert.throws(() => CLIPVisionModelWithProjection.fromPretrained(dir), /no model\.safetensors or model\.fp16\.safetensors/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('_resize_with_antialiasing: both fixture cases match diffusers', () => {
  const r = load('resize_antialias.safetensors');
  const a = relError(resizeWithAntialiasing(r.get('input_a')!, [14, 14]), r.get('output_a')!);
  const b = relError(resizeWithAntialiasing(r.get('input_b')!, [16, 16]), r.get('output_b')!);
  assert.ok(a <= 1e-5, `case a (downscale) relative error ${a}`);
  assert.ok(b <= 1e-5, `case b (upscale) relative error ${b}`);
});

test('antialias blur parameters and kernels', () => {
  // 56x40 -> 14x14: blur kernels 7 (y) x 3 (x); upscaling: sigma 0.001, kernel 3
  assert.deepEqual(antialiasBlur(56, 14), { sigma: 1.5, kernelSize: 7 });
  assert.equal(antialiasBlur(40, 14).kernelSize, 3);
  assert.ok(Math.abs(antialiasBlur(40, 14).sigma - 13 / 14) < 1e-12);
  assert.deepEqual(antialiasBlur(10, 16), { sigma: 0.001, kernelSize: 3 });
  // a 1024-wide image to 224: factor 4.571, sigma 1.786, int(7.14) = 7
  assert.equal(antialiasBlur(1024, 224).kernelSize, 7);
  // int(max(4σ, 3)) = 8 is made odd
  assert.equal(antialiasBlur(14 * 5, 14).kernelSize, 9);
  const k = gaussianKernel1d(7, 1.5).toArray();
  assert.ok(Math.abs(k.reduce((s, v) => s + v, 0) - 1) < 1e-6);
  for (let i = 0; i < 3; i++) assert.equal(k[i], k[6 - i]);
  assert.ok(Math.abs(k[3]! / k[4]! - Math.exp(1 / (2 * 1.5 ** 2))) < 1e-5);
  assert.deepEqual(gaussianKernel1d(3, 0.001).toArray(), [0, 1, 0]);
});

test('clipPreprocess: antialiased resize to 224, then [0,1] and CLIP mean/std', () => {
  const image = torch.rand([2, 3, 300, 200], new torch.Generator(11)).mul(2).sub(1);
  const x = clipPreprocess(image);
  assert.deepEqual(x.shape, [2, 3, 224, 224]);
  const resized = resizeWithAntialiasing(image, [224, 224]);
  for (let c = 0; c < 3; c++) {
    const expected = resized.select(1, c).add(1).div(2).sub(CLIP_IMAGE_MEAN[c]!).div(CLIP_IMAGE_STD[c]!);
    assert.ok(relError(x.select(1, c), expected) <= 1e-6, `channel ${c}`);
  }
  // the real preprocessing constants of the fixture notes
  const real = readJson(join(DIR, 'preprocess_real.json'));
  assert.deepEqual(real.image_mean, CLIP_IMAGE_MEAN);
  assert.deepEqual(real.image_std, CLIP_IMAGE_STD);
  assert.equal(real.image_size, 224);
  assert.throws(() => clipPreprocess(image.select(1, 0)), /expected \[B,3,H,W\]/);
});

test('full ViT-H/14 (SVD-xt image encoder) built on meta has the released state-dict keys', () => {
  const real = readJson(join(DIR, 'preprocess_real.json'));
  const config = clipVisionConfigFromJson(real.real_config_ViT_H_14 as Record<string, unknown>);
  assert.deepEqual(config, CLIP_VIT_H14);
  const model = nn.withInit({ device: 'meta' }, () => new CLIPVisionModelWithProjection(config));
  const list = readJson(join(FIXTURES, 'keys_full', 'clip_vit_h14_vision_with_projection.json')) as {
    keys: [string, number[]][]; num_keys: number; num_parameters: number;
  };
  const ours = [...model.stateDict()].map(([k, t]) => [k, t.shape]);
  assert.equal(ours.length, list.num_keys);
  assert.deepEqual(ours, list.keys);
  assert.equal(model.numParameters(), list.num_parameters);
  assert.equal(model.numParameters(), 632076800);
});

test('config: a full CLIPConfig, quick_gelu and errors', () => {
  const config = clipVisionConfigFromJson({
    projection_dim: 64,
    text_config: { hidden_size: 512 },
    vision_config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, patch_size: 8, image_size: 16 },
  });
  assert.equal(config.projection_dim, 64);
  assert.equal(config.hidden_act, 'quick_gelu');
  assert.equal(config.hidden_size, 32);
  const model = nn.withInit({ seed: 3 }, () => new CLIPVisionModelWithProjection(config));
  const out = model.forward(torch.randn([1, 3, 16, 16], new torch.Generator(1)));
  assert.deepEqual(out.imageEmbeds.shape, [1, 64]);
  assert.deepEqual(out.lastHiddenState.shape, [1, 5, 32]);
  assert.throws(() => model.forward(torch.randn([1, 3, 24, 24], new torch.Generator(1))), /9 patches for 4 positions/);
  assert.throws(() => clipVisionConfigFromJson({ hidden_act: 'swish' }), /unsupported hidden_act/);
  assert.throws(() => clipVisionConfigFromJson({ hidden_size: 30, num_attention_heads: 4 }), /not divisible/);
});

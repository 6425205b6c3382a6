// The StableAnimator UNet (SVD UNet + 4 face tokens + ID-Adapters on the 16 spatial attn2) against the
// reference (fixture unet_stableanimator_tiny: StableAnimator's unet.py with the inference_basic.py processors),
// the conditional pass and the CFG unconditional pass; strict loading of the unet.pth key set.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { readSafetensors } from '../../src/torch/serialization/index.ts';
import { IdAdapterProcessor } from '../../src/models/animator/id-adapter.ts';
import { StableAnimatorUNet } from '../../src/models/animator/stable-animator-unet.ts';
import { savePretrained } from '../../src/models/svd/pretrained.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures');
const DIR = join(FIX, 'unet_stableanimator_tiny');
const WEIGHTS = [join(FIX, 'unet_svd_tiny', 'weights.safetensors'), join(DIR, 'weights_id_adapter.safetensors')];
const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>;

function load(file: string): Map<string, Tensor> {
  return new Map([...readSafetensors(join(DIR, file))].map(([k, raw]) => [k, torch.fromRaw(raw)]));
}

function relError(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return a.sub(b).abs().max().item() / b.abs().max().item();
}

const inputs = load('inputs.safetensors');
const outputs = load('output.safetensors');
const input = (k: string) => inputs.get(k)!;

test('unet_stableanimator_tiny: cond and uncond passes match the reference to 1e-4 of max|ref|', () => {
  const unet = StableAnimatorUNet.fromPretrained(WEIGHTS, { config });
  assert.equal(unet.spatialCrossAttentions().length, 16);
  assert.ok(unet.spatialCrossAttentions().every(([, a]) => a.processor instanceof IdAdapterProcessor));
  assert.equal(unet.stateDict().size, 1424 + 32);
  assert.equal(unet.training, false);
  const ehs = input('encoder_hidden_states');
  const cond = torch.noGrad(() => unet.forward(input('sample'), input('timestep'), ehs, input('added_time_ids'), { poseLatents: input('pose_latents') }));
  const uncond = torch.noGrad(() => unet.forward(input('sample'), input('timestep'), torch.zerosLike(ehs), input('added_time_ids')));
  const e1 = relError(cond, outputs.get('sample')!);
  const e2 = relError(uncond, outputs.get('sample_uncond')!);
  console.log(`  unet_stableanimator_tiny: sample ${e1.toExponential(3)}, sample_uncond ${e2.toExponential(3)}`);
  assert.ok(e1 <= 1e-4, `sample: ${e1}`);
  assert.ok(e2 <= 1e-4, `sample_uncond: ${e2}`);
});

test('fromPretrained also reads a diffusers-layout folder (config.json + safetensors) that savePretrained wrote', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-unet-'));
  try {
    const files = StableAnimatorUNet.fromPretrained(WEIGHTS, { config });
    const { _class_name: _, ...fields } = config;
    savePretrained(dir, 'UNetSpatioTemporalConditionModel', fields, files);
    const folder = StableAnimatorUNet.fromPretrained(dir);
    assert.deepEqual(folder.config, files.config);
    assert.equal(folder.training, false);
    const [a, b] = [files.stateDict(), folder.stateDict()];
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [k, t] of a) assert.equal(b.get(k)!.sub(t).abs().max().item(), 0, k);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a fresh StableAnimator UNet starts its ID-Adapters as copies of to_k/to_v', () => {
  const unet = nn.withInit({ seed: 3 }, () => StableAnimatorUNet.fromConfig(config));
  for (const [, attn] of unet.spatialCrossAttentions()) {
    const p = attn.processor as IdAdapterProcessor;
    assert.equal(p.id_to_k.weight.sub(attn.to_k.weight).abs().max().item(), 0);
    assert.equal(p.id_to_v.weight.sub(attn.to_v.weight).abs().max().item(), 0);
  }
});

test('loading is strict: a checkpoint without the ID-Adapter keys is refused, naming them', () => {
  assert.throws(() => StableAnimatorUNet.fromPretrained(WEIGHTS[0], { config }), /missing keys \(32\)[\s\S]*attn2\.processor\.id_to_k\.weight/);
});

test('alignDistribution false reaches every ID-Adapter, loads the same unet weights, and changes the output', () => {
  assert.ok(nn.withInit({ device: 'meta' }, () => StableAnimatorUNet.fromConfig(config)).spatialCrossAttentions()
    .every(([, a]) => (a.processor as IdAdapterProcessor).alignDistribution));
  const unet = StableAnimatorUNet.fromPretrained(WEIGHTS, { config, alignDistribution: false });
  assert.equal(unet.alignDistribution, false);
  assert.ok(unet.spatialCrossAttentions().every(([, a]) => (a.processor as IdAdapterProcessor).alignDistribution === false));
  const out = torch.noGrad(() => unet.forward(input('sample'), input('timestep'), input('encoder_hidden_states'), input('added_time_ids'),
    { poseLatents: input('pose_latents') }));
  assert.ok(relError(out, outputs.get('sample')!) > 1e-3, 'the unaligned face branch must change the sample');
});

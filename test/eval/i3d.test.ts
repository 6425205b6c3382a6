// InceptionI3d against PyTorch: test/fixtures/i3d_tiny holds a narrow network (widths / 8) with random
// weights and BatchNorm statistics written by scripts/fixtures/make-i3d-fixture.py (an independent
// PyTorch implementation of the architecture), uint8 frames, and PyTorch's outputs on them at 224x224 x 16
// frames (even sizes) and 225x260 x 17 frames (odd sizes: the other branch of the SAME padding).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { writeSafetensors } from '../../src/torch/serialization/index.ts';
import { readStateDict } from '../../src/models/checkpoint.ts';
import { InceptionI3d } from '../../src/models/i3d/inception-i3d.ts';
import { samePad } from '../../src/models/i3d/same-padding.ts';
import { i3dEmbedding, i3dInput } from '../../src/eval/fvd.ts';

const DIR = 'test/fixtures/i3d_tiny';
const WEIGHTS = join(DIR, 'i3d_tiny.pth');
const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8'));

/** max |a - b| / max |b|. */
function relErr(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return torch.scope(() => a.double().sub(b.double()).abs().max().item() / b.double().abs().max().item());
}

test('SAME padding: pytorch-i3d arithmetic by hand', () => {
  assert.deepEqual(samePad(224, 7, 2), [2, 3]); // 224 % 2 = 0: 7 - 2 = 5
  assert.deepEqual(samePad(225, 7, 2), [3, 3]); // 225 % 2 = 1: 7 - 1 = 6
  assert.deepEqual(samePad(15, 2, 2), [0, 1]); // 2 - 1 = 1
  assert.deepEqual(samePad(14, 2, 2), [0, 0]);
  assert.deepEqual(samePad(28, 3, 1), [1, 1]);
});

test('InceptionI3d matches PyTorch on the fixture (1e-4 relative), .pth and .safetensors', () => {
  const model = InceptionI3d.fromPretrained(WEIGHTS);
  assert.equal(model.config.channel_divisor, config.channel_divisor);
  assert.equal(model.config.num_classes, config.num_classes);
  assert.equal(model.config.bn_eps, config.bn_eps);
  assert.equal(model.featureChannels, 1024 / 8);
  const out = readStateDict(join(DIR, 'outputs.pth'));
  const frames = out.get('frames')!; // [17, 32, 32, 3] u8
  assert.equal(frames.dtype, 'u8');
  const asClip = (t: number) => frames.narrow(0, 0, t).permute([0, 3, 1, 2]).float().div(255);
  for (const [name, c] of Object.entries(config.cases) as [string, { frames: number; size_hw: [number, number] }][]) {
    torch.scope(() => {
      const input = i3dInput(asClip(c.frames), c.size_hw);
      assert.deepEqual(input.shape, [1, 3, c.frames, ...c.size_hw]);
      const sums = input.double().sum([3, 4]);
      assert.ok(relErr(sums, out.get(`${name}_input_sums`)!) < 1e-5, `case ${name}: preprocessing`);
      const y = model.forwardAll(input);
      const ePool = relErr(y.pooled, out.get(`${name}_pooled`)!);
      const eLogits = relErr(y.logits, out.get(`${name}_logits`)!);
      assert.ok(ePool < 1e-4, `case ${name}: pooled features rel. error ${ePool}`);
      assert.ok(eLogits < 1e-4, `case ${name}: logits rel. error ${eLogits}`);
      // the embedding FVD uses: the heads averaged over the output positions
      const emb = i3dEmbedding(model, input, 'pool');
      assert.ok(relErr(emb, out.get(`${name}_pooled`)!.mean([2, 3, 4])) < 1e-4);
    });
  }
  // the comparison is sensitive to the input: the same frames in reverse order give other logits
  torch.scope(() => {
    const reversed = model.forward(i3dInput(asClip(16).flip([0]), 224));
    const e = relErr(reversed, out.get('a_logits')!);
    assert.ok(e > 1e-2, `time-reversed clip: rel. difference ${e}`);
  });
  // the same weights as safetensors give the same logits
  const dir = mkdtempSync(join(tmpdir(), 'i3d-'));
  try {
    const path = join(dir, 'i3d.safetensors');
    writeSafetensors(path, new Map([...readStateDict(WEIGHTS)].map(([k, t]) => [`module.${k}`, t.contiguous().raw()])));
    const again = InceptionI3d.fromPretrained(path);
    torch.scope(() => {
      const input = i3dInput(asClip(16), 224);
      assert.ok(relErr(again.forward(input), out.get('a_logits')!) < 1e-4);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('InceptionI3d: checkpoint key names are pytorch-i3d\'s; errors name the file and the sizes', () => {
  const model = InceptionI3d.fromPretrained(WEIGHTS);
  const keys = [...model.stateDict().keys()];
  for (const k of ['Conv3d_1a_7x7.conv3d.weight', 'Conv3d_1a_7x7.bn.running_mean', 'Conv3d_2c_3x3.bn.running_var',
    'Mixed_3b.b0.conv3d.weight', 'Mixed_4f.b3b.bn.bias', 'Mixed_5c.b2b.conv3d.weight', 'logits.conv3d.weight', 'logits.conv3d.bias']) {
    assert.ok(keys.includes(k), k);
  }
  // full width: the Mixed_5c output is the 1024 channels of the released network (384 + 384 + 128 + 128)
  const full = nn.withInit({ device: 'meta' }, () => new InceptionI3d());
  assert.equal(full.featureChannels, 1024);
  assert.deepEqual(full.logits.conv3d.weight.shape, [400, 1024, 1, 1, 1]);
  assert.throws(() => InceptionI3d.fromPretrained(join(DIR, 'outputs.pth')), /outputs\.pth: expected a pytorch-i3d InceptionI3d state dict/);
  assert.throws(() => model.forwardAll(torch.zeros([1, 3, 8, 224, 224])), /Mixed_5c output is 1x7x7.*needs at least 2x7x7/);
});

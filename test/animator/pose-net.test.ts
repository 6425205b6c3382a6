import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { PoseNet } from '../../src/models/animator/pose-net.ts';
import { FIXTURES, get, keyEntries, loadFixture, readKeyList, relError, withCheckpointFile } from '../fixture.ts';

test('PoseNet matches the reference on posenet_full (1e-5 of max|ref|)', () => {
  const model = nn.withInit({ device: 'meta' }, () => new PoseNet(320));
  model.loadStateDict(loadFixture('posenet_full', 'weights.safetensors'), { assign: true });
  model.eval();
  const pose = get(loadFixture('posenet_full', 'inputs.safetensors'), 'pose');
  const ref = get(loadFixture('posenet_full', 'output.safetensors'), 'pose_latents');
  const out = torch.noGrad(() => model.forward(pose));
  const err = relError(out, ref);
  console.log(`posenet_full: max|ours-ref|/max|ref| = ${err.toExponential(3)}`);
  assert.ok(err <= 1e-5, `relative error ${err}`);
  // 5-D input [B, F, 3, H, W] is flattened to B·F frames
  const out5 = torch.noGrad(() => model.forward(torch.cat([pose, pose]).unsqueeze(0)));
  assert.deepEqual(out5.shape, [2, 320, 8, 8]);
  assert.ok(relError(out5.narrow(0, 1, 1), ref) <= 1e-5);
});

test('PoseNet state dict equals pose_net.pth keys, shapes and order', () => {
  const expected = readKeyList('posenet');
  const model = nn.withInit({ device: 'meta' }, () => new PoseNet());
  assert.deepEqual(keyEntries(model), expected.keys);
  assert.equal(model.numParameters(), expected.num_parameters);
  assert.equal(model.numParameters(), 205_557);
});

test('PoseNet init: He-normal hidden convs, zero final_proj (a fresh PoseNet outputs 0), scale 2', () => {
  const model = nn.withInit({ seed: 3 }, () => new PoseNet());
  assert.deepEqual(model.scale.toArray(), [2]);
  assert.equal(model.final_proj.weight.abs().max().item(), 0);
  assert.equal(model.final_proj.bias!.abs().max().item(), 0);
  const conv = model.conv_layers.at(12) as nn.Conv2d; // 64 -> 64, k3: std sqrt(2/576)
  assert.equal(conv.bias!.abs().max().item(), 0);
  const std = conv.weight.std().item();
  assert.ok(Math.abs(std - Math.sqrt(2 / 576)) < 0.004, `std ${std}`);
  assert.ok(Math.abs(conv.weight.mean().item()) < 0.004);
  const out = torch.noGrad(() => model.forward(torch.rand([2, 3, 32, 32], new torch.Generator(1)).mul(2).sub(1)));
  assert.deepEqual(out.shape, [2, 320, 4, 4]);
  assert.equal(out.abs().max().item(), 0);
});

test('PoseNet rejects a non-RGB input with a clear message', () => {
  const model = new PoseNet();
  assert.throws(() => model.forward(torch.zeros([1, 4, 16, 16])), /PoseNet: expected \[F,3,H,W\]/);
});

test('PoseNet.fromPretrained loads a checkpoint file strictly, widening F16 to f32', () => {
  const pose = get(loadFixture('posenet_full', 'inputs.safetensors'), 'pose');
  const ref = get(loadFixture('posenet_full', 'output.safetensors'), 'pose_latents');
  withCheckpointFile('posenet_full', 'weights.safetensors', (path) => {
    const model = PoseNet.fromPretrained(path);
    assert.equal(model.training, false);
    assert.equal(model.scale.dtype, 'f32');
    assert.equal(model.conv_layers.at(0).parameters()[0].device, 'cpu');
    assert.ok(relError(torch.noGrad(() => model.forward(pose)), ref) <= 1e-5);
  });
});

test('PoseNet.fromPretrained names the file and every wrong key', () => {
  withCheckpointFile('posenet_full', 'weights.safetensors', (path) => {
    assert.throws(() => PoseNet.fromPretrained(path), (err: Error) => {
      assert.match(err.message, /state dict from .*model\.safetensors does not match the model/);
      assert.match(err.message, /missing keys \(1\): scale/);
      assert.match(err.message, /unexpected keys \(1\): gain/);
      return true;
    });
  }, (state) => { state.set('gain', state.get('scale')!); state.delete('scale'); });
  // a .pth state dict (torch.save) with other keys and shapes
  const pth = join(FIXTURES, 'pth_state_dict', 'state_dict.pth');
  assert.throws(() => PoseNet.fromPretrained(pth), (err: Error) => {
    assert.match(err.message, /state_dict\.pth does not match the model/);
    assert.match(err.message, /missing keys \(15\): conv_layers\.2\.weight, .*, final_proj\.bias\n/);
    assert.match(err.message, /unexpected keys \(7\): half\.weight, bf16\.weight, steps, mask/);
    // the output channels are read from the file's own final_proj (8 here), so only its input width differs
    assert.match(err.message, /shape of final_proj\.weight: expected \[8,128,1,1\], found \[8,3,1,1\]/);
    return true;
  });
});

test('PoseNet.inputAt: unchanged at 8x the latent; repeated pixels for a 1/4 VAE, so the output lands on its latent', () => {
  const poses = torch.randn([2, 3, 3, 16, 24], new torch.Generator(3));
  assert.equal(PoseNet.inputAt(poses, 2, 3), poses);
  const up = PoseNet.inputAt(poses, 4, 6);
  assert.deepEqual(up.shape, [2, 3, 3, 32, 48]);
  // pixel (y, x) of the input fills the 2x2 block at (2y, 2x)
  for (const [y, x] of [[0, 0], [5, 7], [15, 23]]) {
    const v = poses.select(0, 1).select(0, 2).select(0, 1).select(0, y).select(0, x).item();
    for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      assert.equal(up.select(0, 1).select(0, 2).select(0, 1).select(0, 2 * y + dy).select(0, 2 * x + dx).item(), v);
    }
  }
  const net = nn.withInit({ seed: 1 }, () => new PoseNet(8));
  assert.deepEqual(net.forward(up).shape, [6, 8, 4, 6]);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { IResNet, iresnet100 } from '../../src/models/face/iresnet.ts';
import { get, keyEntries, loadFixture, readKeyList, relError, withCheckpointFile } from '../fixture.ts';

const TINY = { layers: [2, 2, 2, 1] as [number, number, number, number], num_features: 16, stem_width: 8, widths: [8, 16, 32, 64] as [number, number, number, number] };

test('IResNet (width-reduced) matches the reference on iresnet_tiny (1e-5 of max|ref|)', () => {
  const model = nn.withInit({ device: 'meta' }, () => new IResNet(TINY));
  const weights = loadFixture('iresnet_tiny', 'weights.safetensors');
  assert.equal(weights.size, 141);
  model.loadWeights(weights, 'iresnet_tiny'); // the fixture omits num_batches_tracked
  assert.equal(model.training, false);
  assert.equal(model.layer4.at(0).training, false);
  const face = get(loadFixture('iresnet_tiny', 'inputs.safetensors'), 'face');
  const ref = get(loadFixture('iresnet_tiny', 'output.safetensors'), 'embedding');
  const out = torch.noGrad(() => model.forward(face));
  const err = relError(out, ref);
  console.log(`iresnet_tiny: embedding ${err.toExponential(3)}`);
  assert.ok(err <= 1e-5, `embedding: ${err}`);
});

test('IResNet: gradients reach the input through the frozen network (the HJB loss path)', () => {
  const model = nn.withInit({ seed: 5 }, () => new IResNet(TINY)).eval().requiresGrad_(false);
  const face = torch.rand([1, 3, 112, 112], new torch.Generator(6)).requiresGrad_();
  model.forward(face).square().sum().backward();
  const g = face.grad!;
  assert.deepEqual(g.shape, [1, 3, 112, 112]);
  assert.ok(g.abs().max().item() > 0);
  assert.equal(model.fc.weight.grad, undefined);
});

test('iresnet100 state dict equals glintr100_torch.pth keys, shapes, dtypes and order', () => {
  const expected = readKeyList('iresnet100');
  const model = nn.withInit({ device: 'meta' }, () => iresnet100());
  assert.deepEqual(keyEntries(model), expected.keys);
  assert.equal(expected.keys.length, 925);
  assert.equal(model.numParameters(), 65_156_160);
  const elements = [...model.stateDict().values()].reduce((n, t) => n + t.numel, 0);
  assert.equal(elements, expected.num_state_dict_elements);
});

test('IResNet checks the input size', () => {
  const model = nn.withInit({ seed: 5 }, () => new IResNet(TINY)).eval();
  assert.throws(() => model.forward(torch.zeros([1, 3, 96, 96])), /IResNet: expected faces \[B,3,112,112\]/);
});

test('IResNet.fromPretrained loads strictly (num_batches_tracked may be absent) and names a missing key', () => {
  const face = get(loadFixture('iresnet_tiny', 'inputs.safetensors'), 'face');
  const ref = get(loadFixture('iresnet_tiny', 'output.safetensors'), 'embedding');
  withCheckpointFile('iresnet_tiny', 'weights.safetensors', (path) => {
    const model = IResNet.fromPretrained(path, { config: TINY });
    assert.equal(model.training, false);
    assert.equal(model.fc.weight.requiresGrad, false);
    assert.equal(model.bn1.num_batches_tracked.dtype, 'i64');
    assert.ok(relError(torch.noGrad(() => model.forward(face)), ref) <= 1e-5);
  });
  withCheckpointFile('iresnet_tiny', 'weights.safetensors', (path) => {
    assert.throws(() => IResNet.fromPretrained(path, { config: TINY }), (err: Error) => {
      assert.match(err.message, /model\.safetensors does not match the model/);
      assert.match(err.message, /missing keys \(1\): layer2\.0\.downsample\.1\.running_var$/);
      return true;
    });
  }, (state) => { state.delete('layer2.0.downsample.1.running_var'); });
});

test('IResNet: a forward leaves no tensor behind but its output', () => {
  const net = nn.withInit({ seed: 5 }, () => new IResNet(TINY)).eval();
  const face = torch.zeros([1, 3, 112, 112]);
  torch.noGrad(() => {
    const before = torch.liveTensors();
    net.forward(face).dispose();
    assert.equal(torch.liveTensors(), before);
  });
});

test('IResNet.fromConfig reads snake_case configs, and the camelCase keys of face-ID configs written before the convention', () => {
  const snake = nn.withInit({ device: 'meta' }, () => IResNet.fromConfig({ _class_name: 'IResNet', ...TINY, input_size: 32 }));
  assert.deepEqual(snake.config, { ...TINY, dropout: 0, input_size: 32 });
  const legacy = nn.withInit({ device: 'meta' }, () => IResNet.fromConfig({ layers: TINY.layers, numFeatures: 16, stemWidth: 8, widths: TINY.widths, dropout: 0, inputSize: 32 }));
  assert.deepEqual(legacy.config, snake.config);
  assert.deepEqual([...legacy.stateDict()].map(([k, t]) => [k, t.shape]), [...snake.stateDict()].map(([k, t]) => [k, t.shape]));
});

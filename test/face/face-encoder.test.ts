import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { FACE_ENCODER_CONFIG, FusionFaceId } from '../../src/models/face/face-encoder.ts';
import { PerceiverAttention } from '../../src/models/face/perceiver.ts';
import { get, keyEntries, loadFixture, readKeyList, relError, withCheckpointFile } from '../fixture.ts';

const DIR = 'face_encoder_tiny';

function tinyEncoder(): FusionFaceId {
  const model = nn.withInit({ device: 'meta' }, () => new FusionFaceId(64, 32, 48, 4));
  model.loadStateDict(loadFixture(DIR, 'weights.safetensors'), { assign: true });
  return model.eval();
}

test('FusionFaceId matches the reference on face_encoder_tiny (1e-5 of max|ref|)', () => {
  const model = tinyEncoder();
  assert.equal(model.fusion_model!.layers.at(0).at(0) instanceof PerceiverAttention, true);
  assert.equal((model.fusion_model!.layers.at(0).at(0) as PerceiverAttention).heads, 1);
  const inputs = loadFixture(DIR, 'inputs.safetensors');
  const outputs = loadFixture(DIR, 'output.safetensors');
  const idEmbeds = get(inputs, 'id_embeds');
  const clipEmbeds = get(inputs, 'clip_embeds');
  torch.noGrad(() => {
    const before = relError(model.faceTokens(idEmbeds), get(outputs, 'face_tokens_before_perceiver'));
    const tokens = relError(model.forward(idEmbeds, clipEmbeds), get(outputs, 'face_tokens'));
    console.log(`face_encoder_tiny: face_tokens_before_perceiver ${before.toExponential(3)}, face_tokens ${tokens.toExponential(3)}`);
    assert.ok(before <= 1e-5, `before perceiver: ${before}`);
    assert.ok(tokens <= 1e-5, `face tokens: ${tokens}`);
  });
});

test('PerceiverAttention with 2 heads of 16 matches the reference (1e-5 of max|ref|)', () => {
  const attn = nn.withInit({ device: 'meta' }, () => new PerceiverAttention(32, 16, 2));
  attn.loadStateDict(loadFixture(DIR, 'perceiver_attention_weights.safetensors'), { assign: true });
  const inputs = loadFixture(DIR, 'inputs.safetensors');
  const out = torch.noGrad(() => attn.forward(get(inputs, 'perceiver_x'), get(inputs, 'perceiver_latents')));
  const err = relError(out, get(loadFixture(DIR, 'output.safetensors'), 'perceiver_out'));
  console.log(`face_encoder_tiny: perceiver_out ${err.toExponential(3)}`);
  assert.ok(err <= 1e-5, `perceiver_out: ${err}`);
});

test('FusionFaceId state dict equals face_encoder.pth keys, shapes and order (57,183,232 params)', () => {
  const expected = readKeyList('face_encoder');
  const model = nn.withInit({ device: 'meta' }, () => new FusionFaceId());
  assert.deepEqual(keyEntries(model), expected.keys);
  assert.equal(model.numParameters(), 57_183_232);
  assert.equal(expected.num_parameters, 57_183_232);
});

test('FacePerceiver proj_out is zero-initialised: a fresh encoder outputs norm_out(0) = its bias', () => {
  const model = nn.withInit({ seed: 1 }, () => new FusionFaceId(64, 32, 48, 4));
  const proj = model.fusion_model!.proj_out;
  assert.equal(proj.weight.abs().max().item(), 0);
  assert.equal(proj.bias!.abs().max().item(), 0);
  const g = new torch.Generator(2);
  const out = torch.noGrad(() => model.forward(torch.randn([2, 32], g), torch.randn([2, 1, 48], g)));
  assert.deepEqual(out.shape, [2, 4, 64]);
  assert.equal(out.abs().max().item(), 0); // LayerNorm of a zero row is 0·weight + bias, bias 0
});

test('FusionFaceId.fromConfig takes the reference argument names; missing ones are the released sizes', () => {
  const model = nn.withInit({ device: 'meta' }, () => FusionFaceId.fromConfig({ cross_attention_dim: 64, id_embeddings_dim: 32, clip_embeddings_dim: 48, _class_name: 'FusionFaceId' }));
  assert.deepEqual(model.config, { cross_attention_dim: 64, id_embeddings_dim: 32, clip_embeddings_dim: 48, num_tokens: 4 });
  assert.deepEqual(model.stateDict().get('proj.2.weight')!.shape, [64 * 4, 64]);
  assert.deepEqual(nn.withInit({ device: 'meta' }, () => FusionFaceId.fromConfig({})).config, FACE_ENCODER_CONFIG);
});

test('FusionFaceId checks its input shapes', () => {
  const model = nn.withInit({ seed: 1 }, () => new FusionFaceId(64, 32, 48, 4));
  assert.throws(() => model.forward(torch.zeros([1, 31]), torch.zeros([1, 1, 48])), /idEmbeds must be \[B, 32\]/);
  assert.throws(() => model.forward(torch.zeros([1, 32]), torch.zeros([1, 48])), /clipEmbeds must be \[B, L, 48\]/);
});

test('FusionFaceId.fromPretrained loads strictly and reproduces the reference; wrong keys are named', () => {
  const config = { cross_attention_dim: 64, id_embeddings_dim: 32, clip_embeddings_dim: 48, num_tokens: 4 };
  const inputs = loadFixture(DIR, 'inputs.safetensors');
  const ref = get(loadFixture(DIR, 'output.safetensors'), 'face_tokens');
  withCheckpointFile(DIR, 'weights.safetensors', (path) => {
    const model = FusionFaceId.fromPretrained(path, { config });
    assert.equal(model.training, false);
    assert.equal(model.norm.weight!.dtype, 'f32');
    const out = torch.noGrad(() => model.forward(get(inputs, 'id_embeds'), get(inputs, 'clip_embeds')));
    assert.ok(relError(out, ref) <= 1e-5);
    // without a config the sizes come from the checkpoint's own header: the same model
    const inferred = FusionFaceId.fromPretrained(path);
    assert.deepEqual(inferred.config, { ...inferred.config, ...config });
    assert.ok(relError(torch.noGrad(() => inferred.forward(get(inputs, 'id_embeds'), get(inputs, 'clip_embeds'))), ref) <= 1e-5);
    // the tiny checkpoint cannot be read as the full-size encoder: every shape differs
    assert.throws(() => FusionFaceId.fromPretrained(path, { config: FACE_ENCODER_CONFIG }), /shape of fusion_model\.layers\.0\.0\.norm1\.bias: expected \[1024\], found \[64\][^]*56 mis-shaped keys in all/);
  });
  withCheckpointFile(DIR, 'weights.safetensors', (path) => {
    assert.throws(() => FusionFaceId.fromPretrained(path, { config }), (err: Error) => {
      assert.match(err.message, /model\.safetensors does not match the model/);
      assert.match(err.message, /missing keys \(1\): fusion_model\.layers\.3\.1\.3\.weight/);
      assert.match(err.message, /unexpected keys \(1\): fusion_model\.layers\.3\.1\.2\.weight/);
      return true;
    });
  }, (state) => {
    state.set('fusion_model.layers.3.1.2.weight', state.get('fusion_model.layers.3.1.3.weight')!);
    state.delete('fusion_model.layers.3.1.3.weight');
  });
});

test('FusionFaceId: a forward leaves no tensor behind but its output', () => {
  const model = nn.withInit({ seed: 1 }, () => new FusionFaceId(64, 32, 48, 4));
  const id = torch.zeros([1, 32]);
  const clip = torch.zeros([1, 1, 48]);
  torch.noGrad(() => {
    const before = torch.liveTensors();
    model.forward(id, clip).dispose();
    assert.equal(torch.liveTensors(), before);
  });
});

test('FusionFaceId refine false: no Perceiver, forward = faceTokens, keys proj/norm only, loads a full state dict minus fusion_model', () => {
  const full = tinyEncoder();
  const bare = nn.withInit({ seed: 4 }, () => new FusionFaceId(64, 32, 48, 4, { refine: false }));
  assert.equal(bare.refine, false);
  assert.equal(bare.fusion_model, undefined);
  assert.deepEqual([...bare.stateDict().keys()],
    ['proj.0.weight', 'proj.0.bias', 'proj.2.weight', 'proj.2.bias', 'norm.weight', 'norm.bias']);
  assert.equal(bare.parameters().length, 6);
  const kept = new Map([...full.stateDict()].filter(([k]) => !k.startsWith('fusion_model.')));
  bare.loadStateDict(kept); // strict: every key present, none extra
  const inputs = loadFixture(DIR, 'inputs.safetensors');
  const idEmbeds = get(inputs, 'id_embeds');
  torch.noGrad(() => {
    const tokens = bare.forward(idEmbeds, get(inputs, 'clip_embeds'));
    assert.equal(tokens.sub(bare.faceTokens(idEmbeds)).abs().max().item(), 0);
    // the loaded proj/norm are the reference's: its tokens before the Perceiver
    assert.ok(relError(tokens, get(loadFixture(DIR, 'output.safetensors'), 'face_tokens_before_perceiver')) <= 1e-5);
  });
  assert.throws(() => bare.loadStateDict(full.stateDict()), /unexpected keys[^]*fusion_model/);
});

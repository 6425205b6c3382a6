import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import * as nn from '../../src/nn/index.ts';
import { IdAdapterProcessor, idAdapterFromAttention } from '../../src/models/animator/id-adapter.ts';
import { Attention } from '../../src/models/svd/attention.ts';
import { get, loadFixture, relError } from '../fixture.ts';

const DIR = 'id_adapter_processor';

/** diffusers' Attention(query 32, cross 24, heads 2, dim_head 16, bias=False, out_bias=True), as attn2 is built, with the ID-Adapter installed. */
function idAttention(): Attention {
  const attn = new Attention({ query_dim: 32, cross_attention_dim: 24, heads: 2, dim_head: 16, bias: false, out_bias: true });
  attn.setProcessor(new IdAdapterProcessor(32, 24, { numTokens: 4, scale: 1.0 }));
  return attn;
}

function fixtureAttention(): Attention {
  const attn = nn.withInit({ device: 'meta' }, idAttention);
  attn.loadStateDict(loadFixture(DIR, 'weights.safetensors'), { assign: true });
  return attn.eval();
}

test('ID-Adapter processor matches the reference with 1 and 3 context tokens (1e-5 of max|ref|)', () => {
  const attn = fixtureAttention();
  const inputs = loadFixture(DIR, 'inputs.safetensors');
  const outputs = loadFixture(DIR, 'output.safetensors');
  const hidden = get(inputs, 'hidden_states');
  for (const n of ['1ctx', '3ctx']) {
    const out = torch.noGrad(() => attn.forward(hidden, get(inputs, `encoder_hidden_states_${n}`)));
    const err = relError(out, get(outputs, `out_${n}`));
    console.log(`id_adapter_processor: out_${n} ${err.toExponential(3)}`);
    assert.ok(err <= 1e-5, `out_${n}: ${err}`);
  }
  // query chunking (a small score budget) gives the same result
  attn.maxScoreElements = 64;
  const chunked = torch.noGrad(() => attn.forward(hidden, get(inputs, 'encoder_hidden_states_3ctx')));
  assert.ok(relError(chunked, get(outputs, 'out_3ctx')) <= 1e-5);
});

test('ID-Adapter: all-zero encoder states (CFG uncond) give IP\' = 0, so the output is to_out(0) = its bias', () => {
  const attn = fixtureAttention();
  const hidden = get(loadFixture(DIR, 'inputs.safetensors'), 'hidden_states');
  const out = torch.noGrad(() => attn.forward(hidden, torch.zeros([3, 5, 24])));
  const bias = (attn.to_out.at(0) as nn.Linear).bias!;
  assert.ok(out.toArray().every((v) => Number.isFinite(v)));
  assert.equal(out.sub(bias).abs().max().item(), 0);
});

test('ID-Adapter: the face branch is aligned to the context branch (same mean and std per batch·frame)', () => {
  // With to_out = identity, scale 1: out − H = IP', whose mean/std must equal H's.
  const attn = fixtureAttention();
  const linear = attn.to_out.at(0) as nn.Linear;
  torch.noGrad(() => { linear.weight.copy_(torch.eye(32)); linear.bias!.zero_(); });
  const inputs = loadFixture(DIR, 'inputs.safetensors');
  const hidden = get(inputs, 'hidden_states');
  const ehs = get(inputs, 'encoder_hidden_states_3ctx');
  torch.noGrad(() => {
    const out = attn.forward(hidden, ehs);
    const q = attn.to_q.forward(hidden).view([3, 20, 2, 16]).transpose(1, 2);
    const kv = (l: nn.Linear) => l.forward(ehs.narrow(1, 0, 3)).view([3, 3, 2, 16]).transpose(1, 2);
    const h = nn.scaledDotProductAttention(q, kv(attn.to_k), kv(attn.to_v)).transpose(1, 2).flatten(2);
    const ipAligned = out.sub(h);
    const [sdH, muH] = torch.stdMean(h, [1, 2], 1);
    const [sdI, muI] = torch.stdMean(ipAligned, [1, 2], 1);
    assert.ok(muI.sub(muH).abs().max().item() < 1e-5);
    // std(IP') = std(H)·std(IP)/(std(IP)+1e-5): equal up to the eps
    assert.ok(sdI.div(sdH).sub(1).abs().max().item() < 1e-4);
  });
});

test('idAdapterFromAttention copies to_k / to_v into id_to_k / id_to_v (independent tensors)', () => {
  const attn = nn.withInit({ seed: 11 }, () => new Attention({ query_dim: 32, cross_attention_dim: 24, heads: 2, dim_head: 16 }));
  const proc = idAdapterFromAttention(attn, 4);
  assert.equal(proc.numTokens, 4);
  assert.deepEqual(proc.id_to_k.weight.shape, [32, 24]);
  assert.equal(proc.id_to_k.weight.sub(attn.to_k.weight).abs().max().item(), 0);
  assert.equal(proc.id_to_v.weight.sub(attn.to_v.weight).abs().max().item(), 0);
  assert.equal(proc.id_to_k.bias, undefined);
  assert.equal(proc.id_to_k.weight.requiresGrad, true);
  torch.noGrad(() => proc.id_to_k.weight.zero_());
  assert.ok(attn.to_k.weight.abs().max().item() > 0, 'the copy must not alias to_k');
  assert.deepEqual([...proc.stateDict().keys()], ['id_to_k.weight', 'id_to_v.weight']);
});

test('ID-Adapter state-dict keys sit under the attention as processor.id_to_{k,v}.weight', () => {
  const attn = nn.withInit({ device: 'meta' }, idAttention);
  assert.deepEqual([...attn.stateDict().keys()].filter((k) => k.startsWith('processor.')), ['processor.id_to_k.weight', 'processor.id_to_v.weight']);
});

test('ID-Adapter rejects missing or too-short encoder states', () => {
  const attn = fixtureAttention();
  const hidden = torch.zeros([1, 4, 32]);
  assert.throws(() => attn.forward(hidden), /encoder hidden states are required/);
  assert.throws(() => attn.forward(hidden, torch.zeros([1, 4, 24])), /4 tokens, need context tokens/);
});

test('ID-Adapter: a forward leaves no tensor behind but its output', () => {
  const attn = nn.withInit({ seed: 2 }, idAttention);
  const hidden = torch.zeros([2, 6, 32]);
  const ehs = torch.ones([2, 5, 24]);
  torch.noGrad(() => {
    const before = torch.liveTensors();
    attn.forward(hidden, ehs).dispose();
    assert.equal(torch.liveTensors(), before);
  });
});

test('ID-Adapter alignDistribution false adds the face branch as is: to_out(H + IP) by hand, unlike the default', () => {
  const build = (alignDistribution?: boolean) => nn.withInit({ seed: 5 }, () => {
    const attn = new Attention({ query_dim: 32, cross_attention_dim: 24, heads: 2, dim_head: 16, bias: false, out_bias: true });
    attn.setProcessor(new IdAdapterProcessor(32, 24, { numTokens: 4, alignDistribution }));
    return attn.eval();
  });
  const plain = build(false);
  const aligned = build();
  const proc = plain.processor as IdAdapterProcessor;
  assert.equal(proc.alignDistribution, false);
  assert.equal((aligned.processor as IdAdapterProcessor).alignDistribution, true);
  // same parameters either way: same keys, and the same seed gives the same values
  const sdPlain = plain.stateDict();
  assert.deepEqual([...sdPlain.keys()], [...aligned.stateDict().keys()]);
  for (const [k, v] of aligned.stateDict()) assert.equal(v.sub(sdPlain.get(k)!).abs().max().item(), 0, k);

  const g = new torch.Generator(9);
  const hidden = torch.randn([3, 6, 32], g);
  const ehs = torch.randn([3, 2 + 4, 24], g);
  torch.noGrad(() => {
    // softmax(q·kᵀ/√d)·v per head, written out rather than through the attention's own kernel
    const heads = (x: Tensor) => x.view([3, -1, 2, 16]).transpose(1, 2);
    const attend = (q: Tensor, k: Tensor, v: Tensor) =>
      torch.matmul(torch.softmax(torch.matmul(heads(q), heads(k).transpose(2, 3)).div(4), -1), heads(v)).transpose(1, 2).flatten(2);
    const q = torch.linear(hidden, plain.to_q.weight);
    const ctx = ehs.narrow(1, 0, 2);
    const face = ehs.narrow(1, 2, 4);
    const h = attend(q, torch.linear(ctx, plain.to_k.weight), torch.linear(ctx, plain.to_v.weight));
    const ip = attend(q, torch.linear(face, proc.id_to_k.weight), torch.linear(face, proc.id_to_v.weight));
    const out = plain.to_out.at(0) as nn.Linear;
    const expected = torch.linear(h.add(ip), out.weight, out.bias);
    const got = plain.forward(hidden, ehs);
    assert.ok(relError(got, expected) <= 1e-5, `${relError(got, expected)}`);
    assert.ok(relError(aligned.forward(hidden, ehs), expected) > 1e-2, 'alignment must change the output');
  });
});

test('idAdapterFromAttention passes alignDistribution through', () => {
  const attn = nn.withInit({ device: 'meta' }, () => new Attention({ query_dim: 32, cross_attention_dim: 24, heads: 2, dim_head: 16 }));
  assert.equal(idAdapterFromAttention(attn, 4, { alignDistribution: false }).alignDistribution, false);
  assert.equal(idAdapterFromAttention(attn, 4).alignDistribution, true);
});

// SVD's temporal VAE against diffusers' AutoencoderKLTemporalDecoder (fixture vae_temporal_tiny:
// two levels (32, 64) so the resnet shortcut and one down/up-sampling run), plus the pipeline's
// chunked decode, posterior sampling and decoder gradient checkpointing (StableAnimator's HJB path).
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import type { Tensor } from '../../src/torch/index.ts';
import { readSafetensors, writeSafetensors } from '../../src/torch/serialization/index.ts';
import { AutoencoderKLTemporalDecoder } from '../../src/models/svd/autoencoder.ts';
import { FIXTURES, loadFixture, relError } from '../fixture.ts';

const DIR = join(FIXTURES, 'vae_temporal_tiny');

const load = (file: string): Map<string, Tensor> => loadFixture('vae_temporal_tiny', file);


function fromFixture(): AutoencoderKLTemporalDecoder {
  const dir = mkdtempSync(join(tmpdir(), 'svd-vae-'));
  try {
    copyFileSync(join(DIR, 'config.json'), join(dir, 'config.json'));
    copyFileSync(join(DIR, 'weights.safetensors'), join(dir, 'diffusion_pytorch_model.safetensors'));
    return AutoencoderKLTemporalDecoder.fromPretrained(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const vae = fromFixture();
const inputs = load('inputs.safetensors');
const ref = load('output.safetensors');
const latent = inputs.get('latent')!;

const report = (name: string, ratio: number) => console.log(`  vae_temporal_tiny ${name}: max|ours-ref| / max|ref| = ${ratio.toExponential(3)}`);

test('vae_temporal_tiny: config, parameter count and f32 weights', () => {
  assert.equal(vae.numParameters(), 671_830);
  assert.equal(vae.stateDict().size, 161);
  assert.equal(vae.scalingFactor, 0.18215);
  assert.ok(vae.parameters().every((p) => p.dtype === 'f32'));
});

test('encode: posterior mode and clamped logvar match diffusers to 1e-4 of max|ref|', () => {
  torch.noGrad(() => {
    const posterior = vae.encode(inputs.get('image')!);
    const mode = relError(posterior.mode(), ref.get('latent_mode')!);
    const logvar = relError(posterior.logvar, ref.get('latent_logvar')!);
    report('latent_mode', mode);
    report('latent_logvar', logvar);
    assert.ok(mode <= 1e-4 && logvar <= 1e-4);
    // the mid-block attention in query chunks: the same numbers
    const chunked = fromFixture().setMemoryLimits({ maxScoreElements: 2 ** 10 }).encode(inputs.get('image')!);
    assert.ok(relError(chunked.mode(), posterior.mode()) < 1e-6);
  });
});

test('decode(latent, 3 frames) matches diffusers to 1e-4 of max|ref|', () => {
  const ratio = relError(torch.noGrad(() => vae.decode(latent, 3)), ref.get('decoded')!);
  report('decoded', ratio);
  assert.ok(ratio <= 1e-4);
});

test('chunked decode: each chunk is its own clip, as the SVD pipeline decodes', () => {
  torch.noGrad(() => {
    const whole = vae.decode(latent, 3);
    assert.ok(relError(vae.decodeChunked(latent), whole) === 0);
    assert.ok(relError(vae.decodeChunked(latent, 8), whole) === 0);
    const chunked = vae.decodeChunked(latent, 2);
    const byHand = torch.cat([vae.decode(latent.narrow(0, 0, 2), 2), vae.decode(latent.narrow(0, 2, 1), 1)], 0);
    assert.ok(relError(chunked, byHand) === 0);
    // the temporal layers really mix frames: a 2+1 split differs from the 3-frame clip
    assert.ok(relError(chunked, whole) > 1e-3);
    // two videos of 3 frames in one batch are decoded independently
    const two = vae.decode(torch.cat([latent, latent.flip([0])], 0), 3);
    assert.ok(relError(two.narrow(0, 0, 3), whole) < 1e-6);
  });
  assert.throws(() => vae.decode(latent, 2), /not a whole number of videos of 2 frames/);
  assert.throws(() => vae.decode(latent.unsqueeze(0), 3), /latents must be/);
});

test('posterior sample = mean + std·ε from an explicit generator; KL is non-negative', () => {
  torch.noGrad(() => {
    const posterior = vae.encode(inputs.get('image')!);
    const a = posterior.sample(new torch.Generator(42));
    const b = posterior.sample(new torch.Generator(42));
    assert.equal(relError(a, b), 0);
    const eps = torch.randn(posterior.mean.shape, new torch.Generator(42));
    assert.ok(relError(a, posterior.mean.add(posterior.logvar.mul(0.5).exp().mul(eps))) < 1e-6);
    assert.ok(posterior.kl().item() > 0);
  });
});

test('decoder checkpointing in eval mode gives the same gradients (latents and weights)', () => {
  const model = fromFixture();
  const run = () => {
    model.zeroGrad();
    const z = latent.clone().requiresGrad_();
    model.decode(z, 3).sub(ref.get('decoded')!).square().mean([]).backward();
    return [z.grad, ...model.decoder.parameters().map((p) => p.grad)];
  };
  const present = (gs: (Tensor | undefined)[]) => gs.map((g) => g !== undefined);
  const plain = run();
  model.enableGradientCheckpointing(true);
  let calls = 0;
  const mid = model.decoder.mid_block;
  const original = mid.forward.bind(mid);
  mid.forward = (...args) => { calls++; return original(...args); };
  const ckpt = run();
  assert.equal(calls, 2, 'the mid block ran again in backward');
  // the mid-block attention is never run with one resnet per level (diffusers): no gradient either way
  assert.deepEqual(present(ckpt), present(plain));
  assert.equal(present(plain).filter((p) => !p).length, 10);
  const pairs = plain.map((g, i) => [g, ckpt[i]]).filter(([g]) => g) as [Tensor, Tensor][];
  const scale = Math.max(...pairs.map(([g]) => g.abs().max().item()));
  const diff = Math.max(...pairs.map(([g, c]) => g.sub(c).abs().max().item()));
  console.log(`  vae decoder checkpointing: max|Δgrad| / max|grad| = ${(diff / scale).toExponential(3)}`);
  assert.ok(diff <= 1e-5 * scale);
  assert.equal(model.training, false);
});

test('sharded checkpoints (safetensors index), f16 loading and a missing shard key', () => {
  const raws = readSafetensors(join(DIR, 'weights.safetensors'));
  const names = [...raws.keys()];
  const dir = mkdtempSync(join(tmpdir(), 'svd-vae-shards-'));
  try {
    copyFileSync(join(DIR, 'config.json'), join(dir, 'config.json'));
    const half = Math.floor(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((keys, i) => {
      const file = `diffusion_pytorch_model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, file), new Map(keys.map((k) => [k, raws.get(k)!])));
      for (const k of keys) weightMap[k] = file;
    });
    writeFileSync(join(dir, 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    const sharded = AutoencoderKLTemporalDecoder.fromPretrained(dir, { dtype: 'f16' });
    assert.ok(sharded.parameters().every((p) => p.dtype === 'f16'));
    // the f16 weights are exact: widened to f32 they give the reference result
    const out = torch.noGrad(() => sharded.to('f32').decode(latent, 3));
    assert.ok(relError(out, ref.get('decoded')!) <= 1e-4);
    // a shard that lacks keys: the missing ones are named
    writeFileSync(join(dir, 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ weight_map: { [names[0]]: 'diffusion_pytorch_model-00001-of-00002.safetensors' } }));
    assert.throws(() => AutoencoderKLTemporalDecoder.fromPretrained(dir), /missing keys \(\d+\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

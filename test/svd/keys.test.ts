// Full-size SVD-xt UNet (and StableAnimator's, with the ID-Adapter processors) and temporal VAE built
// on 'meta' from their configs: every state-dict key, in order, with its shape, and the parameter
// counts equal the reference lists in fixtures/keys_full.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as nn from '../../src/nn/index.ts';
import { IdAdapterProcessor } from '../../src/models/animator/id-adapter.ts';
import { AutoencoderKLTemporalDecoder } from '../../src/models/svd/autoencoder.ts';
import { UNetSpatioTemporalConditionModel } from '../../src/models/svd/unet.ts';

const KEYS = join(import.meta.dirname, '..', 'fixtures', 'keys_full');

interface KeyFile {
  config: Record<string, unknown>;
  keys: [string, number[], string?][];
  [field: string]: unknown;
}
const read = (file: string) => JSON.parse(readFileSync(join(KEYS, file), 'utf8')) as KeyFile;

/** [key, shape] in state-dict order. */
const listOf = (m: nn.Module) => [...m.stateDict()].map(([k, t]) => [k, t.shape]);

/** Exact equality, with the first difference in the message. */
function assertSameList(ours: unknown[][], ref: unknown[][], what: string): void {
  const i = ours.findIndex((e, j) => JSON.stringify(e) !== JSON.stringify(ref[j]));
  assert.ok(i < 0 && ours.length === ref.length,
    `${what}: ${ours.length} vs ${ref.length} keys; first difference at ${i}: ${JSON.stringify(ours[i])} vs ${JSON.stringify(ref[i])}`);
}

const unetFile = read('unet.json');

test('SVD-xt UNet: 1428 keys in order, shapes, 1,524,623,082 parameters', () => {
  const unet = nn.withInit({ device: 'meta' }, () => UNetSpatioTemporalConditionModel.fromConfig(unetFile.config));
  const ref = unetFile.keys.filter(([k]) => !k.includes('.processor.id_to_')).map(([k, s]) => [k, s]);
  assert.equal(ref.length, unetFile.num_keys_svd);
  assertSameList(listOf(unet), ref, 'SVD UNet');
  assert.equal(unet.numParameters(), unetFile.num_parameters_svd);
  assert.equal(unet.numParameters(), 1_524_623_082);
  assert.ok(unet.parameters().every((p) => (p.device as string) === 'meta'));
});

test('StableAnimator UNet: ID-Adapter processors on the 16 spatial attn2 give the 1460 keys of unet.pth', () => {
  const unet = nn.withInit({ device: 'meta' }, () => {
    const m = UNetSpatioTemporalConditionModel.fromConfig(unetFile.config, { numFaceTokens: 4 });
    const n = m.setSpatialCrossAttentionProcessors((attn) => new IdAdapterProcessor(attn.innerDim, attn.to_k.inFeatures, { numTokens: 4 }));
    assert.equal(n, 16);
    return m;
  });
  assertSameList(listOf(unet), unetFile.keys.map(([k, s]) => [k, s]), 'StableAnimator UNet');
  assert.equal(unet.numParameters(), unetFile.num_parameters_stableanimator);
  assert.equal(unet.numParameters(), 1_550_182_122);
});

test('SVD-xt temporal VAE: 374 keys in order, shapes, 97,742,847 parameters', () => {
  const file = read('vae_svd_temporal.json');
  const vae = nn.withInit({ device: 'meta' }, () => AutoencoderKLTemporalDecoder.fromConfig(file.config));
  assertSameList(listOf(vae), file.keys.map(([k, s]) => [k, s]), 'VAE');
  assert.equal(vae.numParameters(), file.num_parameters);
  assert.equal(vae.numParameters(), 97_742_847);
  assert.equal(vae.stateDict().size, 374);
});

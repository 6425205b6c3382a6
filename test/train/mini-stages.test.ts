// The miniature recipe's first stages on a tiny dataset: exact resume of the shared training loop, the VAE
// folder written in the diffusers layout and read back with its measured latent scale, the image encoder's
// InfoNCE against a hand computation, and its folder read back.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { AutoencoderKLTemporalDecoder } from '../../src/models/svd/autoencoder.ts';
import { CLIPVisionModelWithProjection } from '../../src/models/svd/clip-vision.ts';
import { infoNce, trainMiniImageEncoder } from '../../src/train/mini/image-encoder-stage.ts';
import { trainMiniVae } from '../../src/train/mini/vae-stage.ts';
import { writeTinyDataset } from './helpers.ts';

let root: string;
let data: string;
const quiet = () => {};
// two levels (latent 1/2) keep the test fast; the recipe's config has four
const VAE = { down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], block_out_channels: [32, 32] };
const ENC = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, image_size: 32, patch_size: 8, projection_dim: 16 };

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'mini-stages-'));
  data = join(root, 'data');
  await writeTinyDataset(data, { clips: { rec: [6, 6, 6] }, buckets: [{ name: 'rec', width: 32, height: 32 }] });
});
after(() => rmSync(root, { recursive: true, force: true }));

const vaeRun = (outDir: string, extra: { stopAfter?: number } = {}) => trainMiniVae({
  data, outDir, steps: 4, size: 32, config: VAE, clipsPerStep: 2, framesPerClip: 2, lr: 1e-3, checkpointEvery: 2, log: quiet, ...extra,
});

test('VAE stage: killed after step 2 and resumed equals a straight run; the folder reloads with its latent scale', async () => {
  const straight = await vaeRun(join(root, 'vae-a'));
  await vaeRun(join(root, 'vae-b'), { stopAfter: 2 });
  const resumed = await vaeRun(join(root, 'vae-b'));
  assert.equal(resumed.resumedFrom, 2);
  assert.deepEqual(resumed.losses, straight.losses);
  assert.ok(straight.losses.every((l) => Number.isFinite(l) && l > 0));
  const a = straight.vae.stateDict(), b = resumed.vae.stateDict();
  for (const [k, t] of a) assert.equal(t.sub(b.get(k)!).abs().max().item(), 0, k);

  const loaded = AutoencoderKLTemporalDecoder.fromPretrained(join(root, 'vae-a'));
  assert.equal(loaded.scalingFactor, straight.scalingFactor);
  assert.ok(straight.scalingFactor > 0 && Number.isFinite(straight.scalingFactor));
  torch.noGrad(() => {
    const z = torch.randn([2, 4, 16, 16], new torch.Generator(3));
    assert.equal(loaded.decode(z, 2).sub(straight.vae.decode(z, 2)).abs().max().item(), 0);
  });
});

test('InfoNCE equals the hand computation', () => {
  const a = torch.tensor([3, 4, 0, 2], { shape: [2, 2] });
  const b = torch.tensor([1, 0, 0, 5], { shape: [2, 2] });
  // cosines: a0=(0.6,0.8), a1=(0,1); b0=(1,0), b1=(0,1) -> S = [[0.6, 0.8], [0, 1]] / tau
  const tau = 0.5;
  const S = [[0.6 / tau, 0.8 / tau], [0, 1 / tau]];
  const ce = (row: number[], i: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[i]!;
  const rows = (ce(S[0]!, 0) + ce(S[1]!, 1)) / 2;
  const cols = (ce([S[0]![0]!, S[1]![0]!], 0) + ce([S[0]![1]!, S[1]![1]!], 1)) / 2;
  assert.ok(Math.abs(infoNce(a, b, tau).item() - (rows + cols) / 2) < 1e-6);
});

test('image encoder stage: trains, and the transformers folder reloads to the same embeddings', async () => {
  const out = join(root, 'enc');
  const run = await trainMiniImageEncoder({ data, outDir: out, steps: 3, size: 32, config: ENC, clipsPerStep: 3, log: quiet });
  assert.equal(run.losses.length, 3);
  // three pairs: chance level of the symmetric InfoNCE is ln 3
  assert.ok(run.losses.every((l) => l > 0 && l < 3 * Math.log(3)), `${run.losses}`);
  const loaded = CLIPVisionModelWithProjection.fromPretrained(out);
  torch.noGrad(() => {
    const x = torch.randn([2, 3, 32, 32], new torch.Generator(5));
    assert.equal(loaded.forward(x).imageEmbeds.sub(run.encoder.forward(x).imageEmbeds).abs().max().item(), 0);
  });
});

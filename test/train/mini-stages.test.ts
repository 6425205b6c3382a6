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
import { savePretrained } from '../../src/models/svd/pretrained.ts';
import { MINI_IMAGE_ENCODER_CONFIG, MINI_VAE_CONFIG } from '../../src/mini/configs.ts';
import { IResNet } from '../../src/models/face/iresnet.ts';
import * as nn from '../../src/nn/index.ts';
import { trainMiniAnimator } from '../../src/mini/animator-stage.ts';
import { embedFace, faceIdEmbedder, maskBox } from '../../src/mini/face-id-embedder.ts';
import { infoNce, trainMiniImageEncoder } from '../../src/mini/image-encoder-stage.ts';
import { trainMiniVae } from '../../src/mini/vae-stage.ts';
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

test('mask boxes: the ones\' bounding box; none for empty or all-ones (no-face fallback) masks', () => {
  const m = new Uint8Array(8 * 6);
  m[1 * 8 + 2] = 1;
  m[4 * 8 + 5] = 1;
  assert.deepEqual(maskBox(m, 8, 6), [2, 1, 6, 5]);
  assert.equal(maskBox(new Uint8Array(48), 8, 6), undefined);
  assert.equal(maskBox(new Uint8Array(48).fill(1), 8, 6), undefined);
});

test('animator stage: UNet, PoseNet and Face Encoder train from scratch on the stage 1-2 folders with face-ID embeddings of the mask box', async () => {
  // untrained stage 1-2 folders (the stages' own tests train them)
  const vaeDir = join(root, 'anim-vae'), encDir = join(root, 'anim-enc');
  // PoseNet works at 1/8: the VAE keeps its four levels
  const vaeConfig = { ...MINI_VAE_CONFIG, block_out_channels: [32, 32, 32, 32] };
  savePretrained(vaeDir, 'AutoencoderKLTemporalDecoder', vaeConfig, nn.withInit({ seed: 2 }, () => AutoencoderKLTemporalDecoder.fromConfig(vaeConfig)));
  // the Face Encoder's perceiver has token width / 64 heads: 64 at least
  const encConfig = { ...MINI_IMAGE_ENCODER_CONFIG, ...ENC, projection_dim: 64 };
  savePretrained(encDir, 'CLIPVisionModelWithProjection', encConfig, nn.withInit({ seed: 3 }, () => CLIPVisionModelWithProjection.fromConfig(encConfig)), 'model.safetensors');
  const faceId = nn.withInit({ seed: 1 }, () => new IResNet({ layers: [1, 1, 1, 1], widths: [8, 8, 16, 16], stem_width: 8, num_features: 16, input_size: 16 }));
  const seen: (Float32Array | undefined)[] = [];
  const embed = faceIdEmbedder(faceId);
  const data64 = join(root, 'data64');
  await writeTinyDataset(data64, { clips: { rec: [4, 4] }, buckets: [{ name: 'rec', width: 64, height: 64 }] });
  const run = await trainMiniAnimator({
    data: data64, outDir: join(root, 'animator'), vaeDir, imageEncoderDir: encDir, faceId, steps: 2, size: 64,
    unetConfig: { block_out_channels: [32, 32, 32, 32], num_attention_heads: [1, 1, 1, 1], addition_time_embed_dim: 8, projection_class_embeddings_input_dim: 24, num_frames: 2 },
    train: { numFrames: 2, frameStride: 1, vaeEncodeChunk: 2, warmupSteps: 0, emaDecay: 0 },
    log: quiet,
  });
  assert.equal(run.step, 2);
  assert.ok(run.losses.every((l) => Number.isFinite(l) && l > 0), `${run.losses}`);
  // the tiny dataset's masks cover the top-left quarter: the embedder crops exactly that box
  const img = { width: 32, height: 32, channels: 3 as const, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 7) & 255) };
  const mask = new Uint8Array(32 * 32).map((_, i) => (i % 32 < 16 && i < 32 * 16 ? 1 : 0));
  seen.push(await embed(img, { mask }), await embed(img));
  assert.deepEqual(Array.from(seen[0]!), Array.from(embedFace(faceId, img, [0, 0, 16, 16])));
  assert.equal(seen[1], undefined, 'no mask, no embedding');
});

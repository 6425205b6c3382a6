// The miniature recipe end to end at toy sizes: synthetic data, the three training stages, the export in the
// released layout; then the exported folder loads through the same code as the real weights and animates.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { StableAnimatorPipeline } from '../../src/pipeline/animate.ts';
import { loadComponents, resolveWeightPaths } from '../../src/pipeline/components.ts';
import { main } from '../../src/cli/main.ts';
import { readSafetensors } from '../../src/torch/serialization/index.ts';
import { readMiniatureInfo, runMiniRecipe } from '../../src/mini/recipe.ts';
import { ABLATION_ROWS, ablationVaeDir, evaluateAblation, trainVariants, writeComparisonSheet } from '../../src/mini/ablation.ts';

const root = mkdtempSync(join(tmpdir(), 'mini-recipe-'));
after(() => rmSync(root, { recursive: true, force: true }));
const MOTION = join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'motion');

test('recipe: data, VAE, image encoder, animator, export; the folder loads as released weights and animates', { skip: !existsSync(MOTION) && `no motion data at ${MOTION}` }, async () => {
  const out = join(root, 'weights');
  const lines: string[] = [];
  const options = {
    work: join(root, 'work'), out, identities: 3, clipsPerIdentity: 1, frames: 6, motionDir: MOTION,
    steps: { vae: 2, vaeDecoder: 2, imageEncoder: 2, animatorImage: 2, animator: 2 }, imageBatch: 2,
    validation: { every: 1, cases: 1, frames: 2, steps: 1 },
    vaeConfig: { block_out_channels: [32, 32, 32, 32] },
    imageEncoderConfig: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, image_size: 32, patch_size: 8, projection_dim: 64 },
    unetConfig: { block_out_channels: [32, 32, 32, 32], num_attention_heads: [1, 1, 1, 1], addition_time_embed_dim: 8, projection_class_embeddings_input_dim: 24, num_frames: 2 },
    train: { numFrames: 2, frameStride: 1, vaeEncodeChunk: 2, warmupSteps: 0, emaDecay: 0 },
    log: (l: string) => lines.push(l),
  };
  await runMiniRecipe(options);
  assert.ok(lines.some((l) => l.startsWith('stage 5/5')), lines.join('\n'));
  for (const f of ['README.md', 'miniature.json', 'Animation/unet.safetensors', 'Animation/pose_net.safetensors', 'Animation/face_encoder.safetensors', 'Animation/face_id.safetensors',
    'stable-video-diffusion-img2vid-xt/unet/config.json', 'stable-video-diffusion-img2vid-xt/vae/config.json',
    'stable-video-diffusion-img2vid-xt/image_encoder/model.safetensors', 'stable-video-diffusion-img2vid-xt/scheduler/scheduler_config.json']) {
    assert.ok(existsSync(join(out, f)), f);
  }
  // stage 2b: the exported VAE is stage 2's encoder (the latents the UNet trained on) with a refined decoder
  const vae2 = readSafetensors(join(options.work, 'vae', 'diffusion_pytorch_model.safetensors'));
  const exported = readSafetensors(join(out, 'stable-video-diffusion-img2vid-xt/vae/diffusion_pytorch_model.safetensors'));
  const bytes = (t: torch.RawTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const same = (k: string) => bytes(vae2.get(k)!).equals(bytes(exported.get(k)!));
  assert.ok([...vae2.keys()].filter((k) => !k.startsWith('decoder.')).every(same), 'encoder and quant_conv unchanged');
  assert.ok([...vae2.keys()].some((k) => k.startsWith('decoder.') && !same(k)), 'decoder refined');
  // phase 4a on single frames, 4b on clips from 4a's weights; both validated on held-out cases (val.png)
  const ceilings = new Set<string>();
  for (const phase of ['animator-image', 'animator']) {
    const records = readFileSync(join(options.work, phase, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const val = records.filter((r) => r.type === 'val');
    assert.deepEqual(val.map((r) => r.step), [1, 2], phase);
    for (const r of val) {
      for (const k of ['movingPsnr', 'baselineMovingPsnr', 'vaeMovingPsnr', 'psnr', 'baselinePsnr', 'vaePsnr', 'ssim', 'baselineSsim']) assert.ok(Number.isFinite(r[k]), `${phase} ${k} ${r[k]}`);
      ceilings.add(`${r.vaeMovingPsnr} ${r.vaePsnr}`);
    }
    assert.ok(existsSync(join(options.work, phase, 'val.png')), `${phase}/val.png`);
  }
  // the VAE's ceiling is the frozen VAE's: one value in every validation of both phases, whatever the UNet does
  assert.equal(ceilings.size, 1, [...ceilings].join(' | '));
  assert.match(lines.join('\n'), /step 1  validation  movingPsnr/);
  // a second run finds every stage done and only re-exports
  const before = lines.length;
  await runMiniRecipe(options);
  assert.ok(!lines.slice(before).some((l) => /step \d+\/\d+/.test(l)), 'no training on the second run');

  const components = loadComponents(resolveWeightPaths(out, {}, { hjb: true }), { arcface: true });
  assert.equal(components.unet.parameters()[0]!.dtype, 'f32', 'bf16-stored UNet loads as f32');
  assert.equal(components.faceRecognizer!.config.input_size, 32);
  const g = new torch.Generator(0);
  const result = new StableAnimatorPipeline(components).call({
    reference: torch.rand([1, 3, 128, 128], g).mul(2).sub(1), poses: torch.rand([2, 3, 128, 128], g).mul(2).sub(1),
    faceEmbedding: torch.randn([components.faceEncoder.config.id_embeddings_dim], g),
  }, { numInferenceSteps: 2, tileSize: 2, tileOverlap: 1, seed: 1 });
  assert.deepEqual(result.frames!.shape, [2, 3, 128, 128]);
  assert.ok(Number.isFinite(result.frames!.sum().item()));

  // what the demo needs to know of the data, and the demo itself on the toy export (HJB on step 0)
  const info = readMiniatureInfo(out);
  assert.deepEqual([info.seed, info.identities, info.size, info.frames], [0, 3, 128, 4]);
  assert.equal(info.skeleton, 'legible');
  assert.equal(info.heldOutIdentities.length, 1);
  const demoOut = join(root, 'demo');
  const printed: string[] = [];
  const log = console.log;
  console.log = (m: string) => printed.push(m);
  try {
    assert.equal(await main(['demo', '--weights', out, '--out', demoOut, '--frames', '3', '--steps', '2', '--motion', join(MOTION, 'bvh', 'ad_dab.bvh')]), 0);
  } finally {
    console.log = log;
  }
  for (const f of ['out.mp4', 'side-by-side.mp4', 'frames.png', 'index.html', 'metrics.json']) assert.ok(existsSync(join(demoOut, f)), f);
  const demoMetrics = JSON.parse(readFileSync(join(demoOut, 'metrics.json'), 'utf8'));
  for (const k of ['l1', 'psnr', 'ssim', 'movingPsnr']) assert.ok(Number.isFinite(demoMetrics[k]) && Number.isFinite(demoMetrics.baseline[k]), k);
  assert.match(printed.join('\n'), /repeating the reference: L1 [\d.]+ +PSNR [\d.]+/);
  const scores = /L1 ([\d.]+) +PSNR ([\d.]+) +SSIM ([-\d.]+) +CSIM ([-\d.]+) +Dis ([\d.]+) \(misaligned: ([\d.]+)\)/.exec(printed.join('\n'));
  assert.ok(scores, printed.join('\n'));
  const [l1, psnr, , , dis, misaligned] = scores.slice(1).map(Number);
  assert.ok(l1! > 0 && l1! < 1 && psnr! > 0, printed.join('\n'));
  assert.ok(dis! < misaligned!, `the learned alignment brings the poses closer: ${dis} vs ${misaligned}`);
  assert.match(readFileSync(join(demoOut, 'index.html'), 'utf8'), /Scores against the ground truth[\s\S]*repeating the reference/);

  // the ablations on the toy: four variants trained (one step each), seven rows scored, resumable
  const ablation = {
    miniWork: options.work, info, work: join(root, 'ablate'), steps: 1, cases: 1, frames: 2, inferenceSteps: 1, guidance: 2,
    motionDir: MOTION, faceIdDir: 'weights/faceid', alignDir: 'weights/align', unetConfig: options.unetConfig, train: options.train, log: () => {},
  };
  // the variants decode with the VAE the miniature ships (stage 2b's refined decoder), not stage 2's
  assert.equal(ablationVaeDir(ablation), join(options.work, 'vae-decoder'));
  await trainVariants(ablation);
  const noFe = [...readSafetensors(join(ablation.work, 'no-face-encoder', 'final', 'face_encoder.safetensors')).keys()];
  assert.ok(noFe.length > 0 && noFe.every((k) => !k.startsWith('fusion_model.')), 'w/o Face Encoder has no Perceiver');
  const scored = await evaluateAblation(ablation);
  assert.deepEqual(scored.rows.map((r) => r.row.name), ABLATION_ROWS.map((r) => r.name));
  for (const { mean } of scored.rows) assert.ok(Number.isFinite(mean.l1) && Number.isFinite(mean.psnr) && Number.isFinite(mean.dis), JSON.stringify(mean));
  const rowDis = (name: string) => scored.rows.find((r) => r.row.name === name)!.mean.dis;
  assert.ok(rowDis('svd-align') < rowDis('no-align'), 'SVD alignment brings the poses closer than none');
  assert.equal(rowDis('full'), rowDis('no-hjb'), 'HJB does not change the poses');
  const again = await evaluateAblation(ablation);
  assert.deepEqual(again.rows.map((r) => r.mean), scored.rows.map((r) => r.mean), 'a second run reads the stored scores');
  await writeComparisonSheet(join(root, 'ablation.png'), again);
  assert.ok(existsSync(join(root, 'ablation.png')));
});

test('mini CLI: usage and option errors', async () => {
  const errors: string[] = [];
  const orig = console.error;
  console.error = (m: string) => errors.push(m);
  try {
    assert.equal(await main(['mini', 'fit']), 1);
    assert.equal(await main(['mini', 'train', '--vae-steps=1.5']), 1);
  } finally {
    console.error = orig;
  }
  assert.match(errors[0]!, /expected 'mini train'/);
  assert.match(errors[1]!, /--vae-steps must be a non-negative integer, got '1.5'/);
});

test('readMiniatureInfo: a missing file, bad JSON and missing keys are errors that name the file and the keys', () => {
  const dir = join(root, 'info');
  mkdirSync(dir, { recursive: true });
  assert.throws(() => readMiniatureInfo(dir), /miniature\.json: not found; expected a miniature exported by 'stable-animator mini train'/);
  writeFileSync(join(dir, 'miniature.json'), '{"seed": 0,');
  assert.throws(() => readMiniatureInfo(dir), /miniature\.json: not valid JSON/);
  writeFileSync(join(dir, 'miniature.json'), JSON.stringify({ seed: 0, identities: 3, size: 128 }));
  assert.throws(() => readMiniatureInfo(dir), /miniature\.json: expected the keys seed, identities, heldOutIdentities, heldOutMotions, size, frames; missing heldOutIdentities, heldOutMotions, frames/);
});

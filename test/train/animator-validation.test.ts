// Validation during training and the face weights it may use: no ArcFace file is needed with zero face
// embeddings; the tiny iResNet named in the config gives CSIM equal to a direct cosine computation; a
// validation step writes an mp4 that decodes to the clip's frame count and size, and says why CSIM is skipped.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { alignFace } from '../../src/face/align.ts';
import { detectFaces, largestFace } from '../../src/face/detect.ts';
import { createImage, readImage, type Image } from '../../src/io/image.ts';
import { decodeVideo } from '../../src/io/video.ts';
import { loadTrainComponents } from '../../src/cli/train.ts';
import { resolveTrainConfig } from '../../src/train/animator/train-config.ts';
import { trainAnimator } from '../../src/train/animator/trainer.ts';
import { meanCsim } from '../../src/train/animator/validation.ts';
import { writeTinyWeights } from '../pipeline/fake-weights.ts';
import { tinyComponents } from '../pipeline/tiny.ts';
import { TINY_BUCKETS, writeTinyDataset } from './helpers.ts';

torch.setNumThreads(1);

// a shipped CC0 photo (../shared's portraits are research-only and absent from a user's clone)
const PHOTO = join(import.meta.dirname, '..', 'eval', 'fixtures', 'camera_cc0_256.png');
const root = mkdtempSync(join(tmpdir(), 'sa-train-val-'));
after(() => rmSync(root, { recursive: true, force: true }));

const weights = writeTinyWeights(join(root, 'weights'), 0).args;
const flag = (name: string) => weights[weights.indexOf(name) + 1]!;
const files = { unet: flag('--unet'), poseNet: flag('--pose-net'), faceEncoder: flag('--face-encoder'), svd: flag('--svd') };

function flip(image: Image): Image {
  const out = createImage(image.width, image.height, 3);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      for (let c = 0; c < 3; c++) out.data[(y * image.width + x) * 3 + c] = image.data[(y * image.width + image.width - 1 - x) * 3 + c]!;
    }
  }
  return out;
}

test('no ArcFace file is needed with zero face embeddings; "arcface" embeddings without one is an error naming the file', () => {
  const base = { data: root, output: join(root, 'out'), ...files, validateEvery: 0 };
  const zeros = loadTrainComponents(resolveTrainConfig({ ...base, faceEmbeddings: 'zeros' }, 'test'));
  assert.equal(zeros.components.faceRecognizer, undefined);
  assert.equal(zeros.faceEmbedding, undefined);
  assert.throws(() => loadTrainComponents(resolveTrainConfig({ ...base, faceEmbeddings: 'arcface' }, 'test')), /missing weights[\s\S]*glintr100/);
});

test('CSIM with the tiny iResNet named in the config equals a direct cosine computation', async () => {
  const { components, faceEmbedding } = loadTrainComponents(resolveTrainConfig({
    data: root, output: join(root, 'out'), ...files, arcface: flag('--arcface'), faceEmbeddings: 'zeros', validateEvery: 10,
  }, 'test'));
  assert.ok(components.faceRecognizer && faceEmbedding, 'the iResNet is loaded for CSIM');
  const photo = await readImage(PHOTO);
  const blank = createImage(photo.width, photo.height, 3);
  const frames = [photo, flip(photo), blank];
  const got = await meanCsim(faceEmbedding, photo, frames);

  // directly: largest face, 5-point alignment, the tiny iResNet (as saved by the test) on (x − 127.5)/127.5, cosine by hand
  const net = tinyComponents(0).faceRecognizer.eval();
  const embed = async (image: Image) => {
    const face = largestFace(await detectFaces(image));
    if (!face) return undefined;
    const crop = alignFace(image, face.landmarks!, 112);
    return torch.noGrad(() => net.forward(torch.tensor(crop, { shape: [1, 112, 112, 3] }).permute([0, 3, 1, 2]).sub(127.5).div(127.5)).data<'f32'>());
  };
  const cos = (a: Float32Array, b: Float32Array) => {
    let d = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < a.length; i++) [d, na, nb] = [d + a[i]! * b[i]!, na + a[i]! ** 2, nb + b[i]! ** 2];
    return d / Math.sqrt(na * nb);
  };
  const ref = (await embed(photo))!;
  const sims = [];
  for (const f of frames) {
    const e = await embed(f);
    if (e) sims.push(cos(ref, e));
  }
  assert.equal(sims.length, 2, 'the blank frame has no face');
  assert.equal(got.framesWithFace, 2);
  assert.ok(Math.abs(got.csim! - (sims[0]! + sims[1]!) / 2) < 1e-5, `CSIM ${got.csim} vs direct ${sims}`);
  assert.ok(Math.abs(sims[0]! - 1) < 1e-6 && sims[1]! < 1, `the reference against itself is 1, its mirror less: ${sims}`);
  const none = await meanCsim(faceEmbedding, blank, frames);
  assert.equal(none.csim, undefined);
  assert.match(none.csimSkipped!, /no face found in the reference frame/);
});

test('validation every step: an mp4 with the clip\'s frame count and size; CSIM skipped with the reason', async () => {
  const data = join(root, 'data');
  await writeTinyDataset(data, { clips: { rec: [4], vec: [] } });
  const out = join(root, 'val');
  const lines: string[] = [];
  await trainAnimator({
    config: resolveTrainConfig({
      data, output: out, buckets: [TINY_BUCKETS[0]], numFrames: 2, frameStride: 1, steps: 1, faceEmbeddings: 'zeros', checkpointEvery: 1,
      validateEvery: 1, validationFrames: 3, validationSteps: 2, logEvery: 1, exportWeights: false, gradientCheckpointing: false,
    }, 'test'),
    components: tinyComponents(0), log: (l) => lines.push(l),
  });
  const video = join(out, 'validation', 'step-1.mp4');
  const decoded: Image[] = [];
  for await (const f of decodeVideo(video)) decoded.push(f);
  assert.equal(decoded.length, 3);
  assert.deepEqual([decoded[0]!.width, decoded[0]!.height], [64, 64]);
  const val = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'val');
  assert.equal(val.length, 1);
  assert.equal(val[0].video, video);
  assert.equal(val[0].csim, null);
  assert.match(val[0].csim_skipped, /no face embedder/);
  assert.ok(lines.some((l) => /CSIM is skipped, only the video is written/.test(l)));
  assert.ok(lines.some((l) => /step 1 {2}validation .*CSIM skipped \(no face embedder/.test(l)));
});

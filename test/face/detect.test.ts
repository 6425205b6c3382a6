import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import sharp from 'sharp';
import { readImage, type Image } from '../../src/io/image.ts';
import { decodeFrames } from '../../src/io/video.ts';
import { alignFace, ARCFACE_TEMPLATE, cropBox, estimateSimilarity, templateFor } from '../../src/face/align.ts';
import { blazefaceAnchors, decodeBlazeface, detectFaces, landmarks5FromMesh, largestFace } from '../../src/face/detect.ts';
import { ArcFaceEmbedder, cosineSimilarity, FaceResEmbedder } from '../../src/face/embed.ts';
import { writeModel } from '../pose/dwpose-onnx-fixture.ts';
import { extractFaceMasks, faceMask } from '../../src/face/masks.ts';
import { applyAffine } from '../../src/pose/warp.ts';

const SHARED = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
const PHOTOS = join(SHARED, 'photos');
const TALKING = join(SHARED, 'video', 'talking_head.mp4');
const dir = mkdtempSync(join(tmpdir(), 'faces-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function flip(image: Image): Image {
  const { width, height, channels } = image;
  const data = new Uint8Array(image.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = image.data[(y * width + (width - 1 - x)) * channels + c];
    }
  }
  return { ...image, data };
}

describe('face geometry', () => {
  test('similarity estimate recovers rotation, scale and translation exactly', () => {
    const angle = 0.3;
    const s = 1.7;
    const t = [12, -5];
    const src: [number, number][] = [[0, 0], [10, 0], [3, 7], [-4, 2], [6, 9]];
    const dst = src.map(([x, y]): [number, number] => [s * (Math.cos(angle) * x - Math.sin(angle) * y) + t[0], s * (Math.sin(angle) * x + Math.cos(angle) * y) + t[1]]);
    const m = estimateSimilarity(src, dst);
    const expected = [s * Math.cos(angle), -s * Math.sin(angle), t[0], s * Math.sin(angle), s * Math.cos(angle), t[1]];
    m.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-9, `${i}: ${v} vs ${expected[i]}`));
    assert.throws(() => estimateSimilarity([[1, 1], [1, 1]], [[0, 0], [1, 1]]), /coincide/);
  });

  test('the ArcFace template scales with the crop and zooms around its centre', () => {
    assert.deepEqual(templateFor(112), ARCFACE_TEMPLATE.map((p) => [...p]));
    const t = templateFor(224, 0.5);
    assert.ok(Math.abs(t[0][0] - ((38.2946 - 56) * 0.5 + 56) * 2) < 1e-9);
    const m = estimateSimilarity(ARCFACE_TEMPLATE, templateFor(224));
    assert.deepEqual(applyAffine(m, 56, 56).map((v) => +v.toFixed(9)), [112, 112]);
  });

  test('box crop, mask rectangles (inclusive, rounded), cosine similarity', () => {
    const image: Image = { width: 4, height: 2, channels: 3, data: Uint8Array.from({ length: 24 }, (_, i) => Math.floor(i / 3) * 10) };
    const crop = cropBox(image, [2, 0, 4, 2], 2); // the right half, 1:1
    assert.deepEqual(Array.from(crop).filter((_, i) => i % 3 === 0), [20, 30, 60, 70]);
    const m = faceMask(5, 4, [[1.4, 0.6, 2.6, 1.2]]);
    assert.deepEqual(Array.from(m.data), [0, 0, 0, 0, 0, 0, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(faceMask(2, 1, [], 255).data.every((v) => v === 255), true);
    assert.equal(cosineSimilarity([1, 0], [0, 2]), 0);
    assert.ok(Math.abs(cosineSimilarity([1, 2, 3], [2, 4, 6]) - 1) < 1e-12);
  });

  test('BlazeFace anchors and box decoding', () => {
    const anchors = blazefaceAnchors();
    assert.equal(anchors.length, 896);
    assert.deepEqual([anchors[0], anchors[1], anchors[2], anchors[512], anchors[896 - 1]], [[8, 8], [8, 8], [24, 8], [16, 16], [240, 240]]);
    const rows = new Float32Array(896 * 17);
    rows.set([3, 2, -4, 20, 10, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 17 * 2); // anchor (24, 8)
    const boxes = decodeBlazeface(rows, anchors, (x, y) => [x * 2, y * 2], 0.6);
    assert.equal(boxes.length, 1);
    assert.deepEqual(boxes[0].box, [32, -2, 72, 18]); // centre (26, 4), 20x10, then x2
    assert.deepEqual(boxes[0].keypoints[0], [50, 18]);
    assert.ok(Math.abs(boxes[0].score - 1 / (1 + Math.exp(-3))) < 1e-6);
  });
});

describe('ArcFace on onnxruntime (stand-in model)', () => {
  test('aligned crop -> NCHW (x - 127.5) / 127.5 -> 512-d output; wrong input shapes refused', async () => {
    // Output = input[0, :, 0, 0:...]: an Identity model shows exactly what the embedder fed in.
    const path = writeModel(join(dir, 'arcface.onnx'), {
      inputs: [{ name: 'input.1', dims: [1, 3, 112, 112] }],
      outputs: [{ name: 'out', dims: [1, 3, 112, 112] }],
      nodes: [{ op: 'Identity', inputs: ['input.1'], outputs: ['out'] }],
    });
    const arc = await ArcFaceEmbedder.load(path);
    const crop = new Float32Array(112 * 112 * 3);
    for (let i = 0; i < 112 * 112; i++) crop.set([255, 127.5, 0], 3 * i); // R, G, B
    const fed = await arc.embedCrop(crop);
    assert.equal(fed.length, 3 * 112 * 112);
    assert.deepEqual([fed[0], fed[112 * 112], fed[2 * 112 * 112]], [1, 0, -1]); // RGB planes in order
    await arc.dispose();
    const wrong = writeModel(join(dir, 'wrong.onnx'), {
      inputs: [{ name: 'x', dims: [1, 3, 64, 64] }], outputs: [{ name: 'y', dims: [1, 3, 64, 64] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    });
    await assert.rejects(ArcFaceEmbedder.load(wrong), /1x3x112x112 input, found \[1,3,64,64\]/);
  });
});

describe('faces in real photos and video', { skip: !existsSync(join(PHOTOS, 'face_1.png')) && 'needs ../shared/data/photos' }, () => {
  test('one face per portrait, a box around the face, landmarks in ArcFace order', async () => {
    const image = await readImage(join(PHOTOS, 'face_1.png'), { channels: 3 });
    const faces = await detectFaces(image);
    assert.equal(faces.length, 1);
    const [x1, y1, x2, y2] = faces[0].box;
    // Hand-read from the image (414x452): the face spans about x 110-375, y 100-390.
    assert.ok(Math.abs(x1 - 110) < 25 && Math.abs(x2 - 375) < 25 && Math.abs(y1 - 100) < 30 && Math.abs(y2 - 390) < 30, `${faces[0].box}`);
    const [le, re, nose, ml, mr] = faces[0].landmarks!;
    assert.ok(le[0] < nose[0] && nose[0] < re[0] && ml[0] < mr[0] && le[1] < nose[1] && nose[1] < ml[1]);
    assert.deepEqual(landmarks5FromMesh(faces[0].mesh!), faces[0].landmarks);
    // The aligned crop puts the eyes where the template has them: re-detecting in the crop finds them there.
    const aligned = alignFace(image, faces[0].landmarks!, 112);
    assert.equal(aligned.length, 112 * 112 * 3);
  });

  test('identity: same person (flipped photo, video frames) above different persons', async () => {
    const embedder = new FaceResEmbedder();
    const embed = async (image: Image) => {
      const face = largestFace(await detectFaces(image));
      assert.ok(face, 'a face');
      return embedder.embedFace(image, face);
    };
    const photos: Float32Array[] = [];
    let flippedSame = 0;
    for (const i of [1, 2, 3]) {
      const image = await readImage(join(PHOTOS, `face_${i}.png`), { channels: 3 });
      photos.push(await embed(image));
      if (i === 1) flippedSame = cosineSimilarity(photos[0], await embed(flip(image)));
    }
    const different = [cosineSimilarity(photos[0], photos[1]), cosineSimilarity(photos[0], photos[2]), cosineSimilarity(photos[1], photos[2])];
    // Measured: flipped 0.9+, different persons 0.36-0.51.
    assert.ok(flippedSame > 0.85, `flipped ${flippedSame}`);
    assert.ok(Math.max(...different) < 0.65, `different ${different}`);
    if (existsSync(TALKING)) {
      const frames: Float32Array[] = [];
      let k = 0;
      for await (const f of decodeFrames(TALKING, { maxFrames: 300 })) if (k++ % 100 === 0) frames.push(await embed(f));
      const same = [cosineSimilarity(frames[0], frames[1]), cosineSimilarity(frames[0], frames[2]), cosineSimilarity(frames[1], frames[2])];
      assert.ok(Math.min(...same) > Math.max(...different) + 0.1, `video ${same} vs different ${different}`);
    }
  });

  test('face masks for video frames: filled boxes, faces.json, missing frames reported', { skip: !existsSync(TALKING) && 'needs talking_head.mp4' }, async () => {
    const out = join(dir, 'masks');
    const report = await extractFaceMasks(TALKING, out, { maxFrames: 3 });
    assert.equal(report.frames, 3);
    assert.deepEqual(report.missing, []);
    const meta = await sharp(join(out, 'frame_0.png')).metadata();
    assert.deepEqual([meta.width, meta.height, meta.channels], [300, 350, 1]);
    const { data, info } = await sharp(join(out, 'frame_0.png')).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 1);
    const [x1, y1, x2, y2] = report.boxes[0][0].map(Math.round);
    assert.equal(data[Math.round((y1 + y2) / 2) * 300 + Math.round((x1 + x2) / 2)], 255);
    assert.equal(data[0], 0);
    const white = data.reduce((n, v) => n + (v === 255 ? 1 : 0), 0);
    assert.equal(white, (x2 - x1 + 1) * (y2 - y1 + 1));
    const json = JSON.parse(readFileSync(join(out, 'faces.json'), 'utf8'));
    assert.equal(json.frames, 3);
    assert.equal(json.missingPolicy, 'empty');

    // A frame with no face (a black image folder): reported, and filled only when asked.
    const black = join(dir, 'black');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(black);
    await sharp({ create: { width: 64, height: 48, channels: 3, background: 'black' } }).png().toFile(join(black, 'frame_0.png'));
    const none = await extractFaceMasks(black, join(dir, 'black-masks'), { missing: 'full' });
    assert.deepEqual(none.missing, [0]);
    const filled = await sharp(join(dir, 'black-masks', 'frame_0.png')).extractChannel(0).raw().toBuffer();
    assert.ok(filled.every((v) => v === 255));
  });
});

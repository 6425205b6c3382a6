// The reference's identity with a recognizer of another input size than ArcFace's 112 px: the miniature's
// face-ID net (32 px) gets the square box crop it was trained on (issue 18: it used to fail with
// "IResNet: expected faces [B,3,32,32], got [1,3,112,112]").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readImage } from '../../src/io/image.ts';
import { cropBox, squareFaceBox } from '../../src/face/align.ts';
import { detectFaces, largestFace } from '../../src/face/detect.ts';
import { referenceFace } from '../../src/face/reference-face.ts';
import { embedFace } from '../../src/mini/face-id-embedder.ts';
import { loadFaceIdWeights } from '../../src/mini/face-id.ts';
import { PHOTO } from '../eval/photo-frames.ts';

test("referenceFace with the miniature's 32 px face-ID net: the square box crop, the net's own embedding", async () => {
  const image = await readImage(PHOTO, { channels: 3 });
  const net = loadFaceIdWeights(new URL('../../weights/faceid', import.meta.url).pathname);
  assert.equal(net.config.input_size, 32);
  const r = await referenceFace(image, { recognizer: net });
  assert.ok(r, 'a face is found in the photo');
  assert.equal(r.embedding.length, net.config.num_features);
  assert.ok(r.embedding.every(Number.isFinite));
  // the same as embedding the square crop of the detected box directly
  const face = largestFace(await detectFaces(image))!;
  const direct = embedFace(net, image, face.box);
  for (let i = 0; i < direct.length; i++) assert.ok(Math.abs(direct[i]! - r.embedding[i]!) < 1e-5, `feature ${i}`);
  // squareFaceBox: centred, square, 1.15 x the larger side
  assert.deepEqual(squareFaceBox([10, 20, 30, 60]), [20 - 23, 40 - 23, 20 + 23, 40 + 23]);
  assert.equal(cropBox(image, squareFaceBox(face.box), 32).length, 32 * 32 * 3);
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Image } from '../../src/io/image.ts';
import { DwposeDetector } from '../../src/pose/dwpose/detector.ts';
import { OnnxSession } from '../../src/pose/dwpose/onnx-session.ts';
import {
  backProject, bboxToCenterScale, cropPerson, decodeSimcc, fixAspectRatio, MEAN, STD, warpMatrix,
} from '../../src/pose/dwpose/rtmpose.ts';
import { decodeGrid, letterbox, nms, personBoxes, postprocess, type Box } from '../../src/pose/dwpose/yolox.ts';
import { applyAffine } from '../../src/pose/warp.ts';
import { constantModel, writeModel } from './dwpose-onnx-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'dwpose-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function uniform(width: number, height: number, rgb: [number, number, number]): Image {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, 3 * i);
  return { width, height, channels: 3, data };
}

describe('YOLOX pre/post-processing', () => {
  test('letterbox: top-left, ratio min(640/H, 640/W), pad 114, CHW in image channel order', () => {
    const { data, ratio } = letterbox(uniform(4, 2, [10, 20, 30]));
    assert.equal(ratio, 160);
    const plane = 640 * 640;
    // Inside the resized 640x320 area: the colour; below it: 114.
    assert.deepEqual([data[0], data[plane], data[2 * plane]], [10, 20, 30]);
    assert.deepEqual([data[319 * 640 + 639], data[plane + 319 * 640 + 639]], [10, 20]);
    assert.deepEqual([data[320 * 640], data[2 * plane + 639 * 640 + 639]], [114, 114]);
  });

  test('decodeGrid: (raw + grid) * stride and exp(raw) * stride, strides 8/16/32 in order', () => {
    const rowLength = 6;
    const pred = new Float32Array(8400 * rowLength);
    const at = (row: number, v: number[]) => pred.set(v, row * rowLength);
    at(3 * 80 + 2, [0.5, 0.25, Math.log(2), 0, 1, 1]); // stride 8, gx 2, gy 3
    at(6400 + 40 + 1, [0, 0, 0, Math.log(3), 1, 1]); // stride 16, gx 1, gy 1
    at(8000 + 6 * 20 + 5, [0.5, 0.5, 1, 1, 1, 1]); // stride 32, gx 5, gy 6
    decodeGrid(pred, rowLength);
    const row = (r: number) => Array.from(pred.subarray(r * rowLength, r * rowLength + 4));
    assert.deepEqual(row(3 * 80 + 2).map((v) => +v.toFixed(4)), [20, 26, 16, 8]);
    assert.deepEqual(row(6400 + 41).map((v) => +v.toFixed(4)), [16, 16, 16, 48]);
    assert.deepEqual(row(8000 + 125).map((v) => +v.toFixed(3)), [176, 208, +(Math.E * 32).toFixed(3), +(Math.E * 32).toFixed(3)]);
    assert.throws(() => decodeGrid(new Float32Array(100 * 6), 6), /8400/);
  });

  test('nms: IoU with the +1 convention, threshold 0.45 keeps <= and drops >', () => {
    const boxes: Box[] = [[0, 0, 9, 9], [1, 0, 10, 9], [5, 0, 14, 9], [100, 100, 110, 110]];
    // IoU(0,1) = 90/110 = 0.818 -> dropped; IoU(0,2) = 50/150 = 0.333 -> kept.
    assert.deepEqual(nms(boxes, [0.9, 0.8, 0.7, 0.6], 0.45), [0, 2, 3]);
    // Box 1 first: IoU(1,2) = 60/140 = 0.43 keeps 2; IoU(1,0) = 0.818 drops 0.
    assert.deepEqual(nms(boxes, [0.5, 0.8, 0.7, 0.6], 0.45), [1, 2, 3]);
  });

  test('postprocess: score = obj * cls > 0.1 per class, boxes divided by ratio; persons need class 0 and > 0.3', () => {
    const rowLength = 7; // 2 classes
    const pred = Float32Array.from([
      100, 100, 40, 20, 0.9, 0.5, 0.1, // person 0.45, other class 0.09 (below 0.1)
      300, 300, 40, 40, 0.5, 0.1, 0.9, // class 1, 0.45
      102, 100, 40, 20, 0.5, 0.5, 0.0, // person 0.25, overlaps row 0 -> suppressed
      500, 500, 20, 20, 0.5, 0.5, 0.0, // person 0.25, kept by NMS but not a person > 0.3
    ]);
    const dets = postprocess(pred, rowLength, 2);
    assert.deepEqual(dets.map((d) => [d.classId, +d.score.toFixed(3), d.box]), [
      [0, 0.45, [40, 45, 60, 55]],
      [0, 0.25, [245, 245, 255, 255]],
      [1, 0.45, [140, 140, 160, 160]],
    ]);
    assert.deepEqual(personBoxes(dets), [[40, 45, 60, 55]]);
  });
});

describe('RTMPose pre/post-processing', () => {
  test('box to centre/scale with padding 1.25, aspect fixed to 288/384', () => {
    const cs = bboxToCenterScale([10, 20, 110, 220]);
    assert.deepEqual(cs, { center: [60, 120], scale: [125, 250] });
    assert.deepEqual(fixAspectRatio(cs.scale, 0.75), [187.5, 250]);
    assert.deepEqual(fixAspectRatio([400, 100], 0.75), [400, 400 / 0.75]);
  });

  test('warp matrix maps the box centre to the input centre, one scale for both axes', () => {
    const m = warpMatrix([60, 120], [187.5, 250], [288, 384]);
    assert.deepEqual(applyAffine(m, 60, 120), [144, 192]);
    const [x, y] = applyAffine(m, 60 - 187.5 / 2, 120 - 125);
    assert.ok(Math.abs(x) < 1e-9 && Math.abs(y) < 1e-9);
  });

  test('SimCC: argmax / 2, score = min of the maxima, location -1/2 when the score is <= 0', () => {
    const k = 2;
    const x = new Float32Array(2 * 8);
    const y = new Float32Array(2 * 6);
    x[5] = 0.9; y[3] = 0.7; // kp 0: (2.5, 1.5), score 0.7
    x.fill(-1, 8); y.fill(-2, 6); x[8 + 1] = -0.5; // kp 1: both maxima negative
    const { locs, scores } = decodeSimcc(x, y, k);
    assert.deepEqual(Array.from(locs), [2.5, 1.5, -0.5, -0.5]);
    assert.deepEqual(Array.from(scores).map((v) => +v.toFixed(3)), [0.7, -2]);
  });

  test('back-projection inverts the crop warp', () => {
    const crop = { center: [60, 120] as [number, number], scale: [187.5, 250] as [number, number] };
    const m = warpMatrix(crop.center, crop.scale, [288, 384]);
    const [ix, iy] = applyAffine(m, 77.5, 33.25);
    const [x, y] = backProject(Float32Array.from([ix, iy]), crop);
    assert.ok(Math.abs(x - 77.5) < 1e-3 && Math.abs(y - 33.25) < 1e-3, `${x}, ${y}`);
  });

  test('crop: mean/std normalisation inside, cv2 border 0 outside', () => {
    const image = uniform(100, 100, [200, 100, 50]);
    const crop = cropPerson(image, [40, 40, 60, 60]); // small box in the middle: all inside
    const plane = 288 * 384;
    assert.ok(Math.abs(crop.data[plane / 2] - (200 - MEAN[0]) / STD[0]) < 1e-5);
    assert.ok(Math.abs(crop.data[2 * plane + 5] - (50 - MEAN[2]) / STD[2]) < 1e-5);
    const wide = cropPerson(image, [0, 0, 100, 100]); // padded box: corners fall outside the image
    assert.ok(Math.abs(wide.data[0] - (0 - MEAN[0]) / STD[0]) < 1e-5);
    assert.deepEqual(wide.center, [50, 50]);
    assert.deepEqual(wide.scale, [125, 125 / 0.75]);
  });
});

describe('onnxruntime session plumbing (hand-encoded models)', () => {
  test('an Add model: input/output names, shapes, dtypes and values', async () => {
    const path = writeModel(join(dir, 'add.onnx'), {
      inputs: [{ name: 'x', dims: [1, 3] }],
      outputs: [{ name: 'y', dims: [1, 3] }],
      nodes: [{ op: 'Add', inputs: ['x', 'bias'], outputs: ['y'] }],
      initializers: [{ name: 'bias', dims: [1, 3], data: Float32Array.from([10, 20, 30]) }],
    });
    const s = await OnnxSession.open(path);
    assert.deepEqual(s.inputs, [{ name: 'x', shape: [1, 3], type: 'float32' }]);
    assert.deepEqual(s.outputs, [{ name: 'y', shape: [1, 3], type: 'float32' }]);
    const out = await s.run({ x: { data: Float32Array.from([1, 2, 3]), dims: [1, 3] } });
    assert.deepEqual(Array.from(out.y.data), [11, 22, 33]);
    assert.deepEqual(out.y.dims, [1, 3]);
    await assert.rejects(s.run({ x: { data: Float32Array.from([1, 2]), dims: [1, 2] } }), /add\.onnx: inference failed for x\[1,2\]/);
    await s.dispose();
  });

  test('symbolic dimensions read as -1; missing and corrupt files are named', async () => {
    const path = writeModel(join(dir, 'id.onnx'), {
      inputs: [{ name: 'images', dims: ['batch', 3, 4, 4] }],
      outputs: [{ name: 'out', dims: ['batch', 3, 4, 4] }],
      nodes: [{ op: 'Identity', inputs: ['images'], outputs: ['out'] }],
    });
    const s = await OnnxSession.open(path);
    assert.deepEqual(s.inputs[0].shape, [-1, 3, 4, 4]);
    const [o] = await s.runSingle(new Float32Array(2 * 48).fill(7), [2, 3, 4, 4]);
    assert.deepEqual(o.dims, [2, 3, 4, 4]);
    await s.dispose();
    await assert.rejects(OnnxSession.open(join(dir, 'nope.onnx')), /nope\.onnx: file not found/);
    writeFileSync(join(dir, 'bad.onnx'), 'not a model');
    await assert.rejects(OnnxSession.open(join(dir, 'bad.onnx')), /cannot open ONNX model .*bad\.onnx/);
  });
});

describe('DwposeDetector end to end with stand-in models', () => {
  // Image 320x160: letterbox ratio 2. One YOLOX row at stride 32, cell (5, 6): centre (176, 208), size 128x256
  // in letterbox pixels -> person box [56, 40, 120, 168] in the image, score 0.9 * 0.9.
  function yoloxOutput(): Float32Array {
    const pred = new Float32Array(8400 * 85);
    pred.set([0.5, 0.5, Math.log(4), Math.log(8), 0.9, 0.9], (8000 + 6 * 20 + 5) * 85);
    return pred;
  }
  // RTMPose: keypoint j peaks at input x = 10 + j, y = 20 + 2j (SimCC indices doubled), score 0.8, except
  // keypoint 6 (right shoulder) with 0.2.
  function simcc(): { x: Float32Array; y: Float32Array } {
    const x = new Float32Array(133 * 576);
    const y = new Float32Array(133 * 768);
    for (let j = 0; j < 133; j++) {
      const s = j === 6 ? 0.2 : 0.8;
      x[j * 576 + 2 * (10 + j)] = s;
      y[j * 768 + 2 * (20 + 2 * j)] = s;
    }
    return { x, y };
  }

  test('boxes, crops, SimCC and the 133 -> OpenPose-18 + hands + face conversion', async () => {
    const det = writeModel(join(dir, 'yolox_l.onnx'), constantModel(
      { name: 'images', dims: [1, 3, 640, 640] }, [{ name: 'output', dims: [1, 8400, 85], data: yoloxOutput() }],
    ));
    const { x, y } = simcc();
    writeModel(join(dir, 'dw-ll_ucoco_384.onnx'), constantModel(
      { name: 'input', dims: [1, 3, 384, 288] },
      [{ name: 'simcc_x', dims: [1, 133, 576], data: x }, { name: 'simcc_y', dims: [1, 133, 768], data: y }],
    ));
    assert.ok(det);
    const detector = await DwposeDetector.load({ dir });
    const image = uniform(320, 160, [90, 90, 90]);
    const raw = await detector.detectWholeBody(image);
    assert.equal(raw.boxes.length, 1);
    assert.deepEqual(raw.boxes[0].map((v) => +v.toFixed(4)), [56, 40, 120, 168]);
    // Crop: centre (88, 104), padded 80x160, aspect-fixed to 120x160; input scale 288/120 = 2.4.
    const px = (j: number) => (10 + j) / 2.4 + 88 - 60;
    const py = (j: number) => (20 + 2 * j) / 2.4 + 104 - 80;
    const p = raw.persons[0];
    assert.ok(Math.abs(p.xy[2 * 9] - px(9)) < 1e-4 && Math.abs(p.xy[2 * 9 + 1] - py(9)) < 1e-4);
    assert.ok(Math.abs(p.scores[6] - 0.2) < 1e-6);

    const frame = await detector.detect(image);
    assert.equal(frame.persons.length, 1);
    const person = frame.persons[0];
    const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) < 1e-5);
    // OpenPose-18: nose <- COCO 0; neck = mean of shoulders (5, 6), score 0 since shoulder 6 has 0.2.
    assert.ok(close(person.body[0], [px(0) / 320, py(0) / 160, 0.8]));
    assert.ok(close(person.body[1], [(px(5) + px(6)) / 2 / 320, (py(5) + py(6)) / 2 / 160, 0]));
    assert.ok(close(person.body[2], [px(6) / 320, py(6) / 160, 0.2])); // right shoulder <- COCO 6
    assert.ok(close(person.body[5], [px(5) / 320, py(5) / 160, 0.8])); // left shoulder <- COCO 5
    assert.ok(close(person.face[0], [px(23) / 320, py(23) / 160, 0.8]));
    assert.ok(close(person.hands[0][0], [px(91) / 320, py(91) / 160, 0.8]));
    assert.ok(close(person.hands[1][20], [px(132) / 320, py(132) / 160, 0.8]));
    await detector.dispose();
  });

  test('no person box: the whole image is one crop, as the reference', async () => {
    const empty = join(dir, 'empty');
    const { x, y } = simcc();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(empty);
    writeModel(join(empty, 'yolox_l.onnx'), constantModel(
      { name: 'images', dims: [1, 3, 640, 640] }, [{ name: 'output', dims: [1, 8400, 85], data: new Float32Array(8400 * 85) }],
    ));
    writeModel(join(empty, 'dw-ll_ucoco_384.onnx'), constantModel(
      { name: 'input', dims: [1, 3, 384, 288] },
      [{ name: 'simcc_x', dims: [1, 133, 576], data: x }, { name: 'simcc_y', dims: [1, 133, 768], data: y }],
    ));
    const detector = await DwposeDetector.load({ dir: empty });
    const raw = await detector.detectWholeBody(uniform(320, 160, [0, 0, 0]));
    assert.deepEqual(raw.boxes, []);
    assert.equal(raw.persons.length, 1);
    // Whole image [0, 0, 320, 160]: centre (160, 80), padded 400x200 -> aspect-fixed 400x533.33.
    const s = 288 / 400;
    assert.ok(Math.abs(raw.persons[0].xy[0] - (10 / s + 160 - 200)) < 1e-3);
    await detector.dispose();
  });

  test('missing model files are named', async () => {
    await assert.rejects(DwposeDetector.load({ dir: join(dir, 'none') }), /yolox_l\.onnx: file not found/);
    await assert.rejects(DwposeDetector.load({}), /--dwpose-dir/);
  });
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { coco17FromPose, emptyCounts, oks, scoreImage, summarize, torsoSize } from '../../src/eval/keypoint-accuracy.ts';
import { readImage } from '../../src/io/image.ts';
import { TfjsGraph } from '../../src/pose/embedded/tfjs-graph/graph.ts';
import { resizeWeights, samePadding } from '../../src/pose/embedded/tfjs-graph/ops.ts';
import { decodeWeights, halfToFloat, type TfjsModelJson } from '../../src/pose/embedded/tfjs-graph/weights.ts';
import { squareCrop } from '../../src/pose/embedded/body.ts';
import { EmbeddedPoseDetector } from '../../src/pose/embedded/detector.ts';
import { IBUG68_FROM_MESH } from '../../src/pose/embedded/face.ts';
import { applyAffine, boxToOutput, invertAffine, warpAffine } from '../../src/pose/warp.ts';

const SHARED = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
const COCO = join(SHARED, 'photos', 'coco_gt');

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A graph model JSON with float32 weights given inline. */
function graph(nodes: TfjsModelJson['modelTopology']['node'], weights: Record<string, { shape: number[]; data: number[]; dtype?: 'float32' | 'int32' }>): TfjsGraph {
  const specs = Object.entries(weights).map(([name, w]) => ({ name, shape: w.shape, dtype: w.dtype ?? 'float32' as const }));
  const bytes = new Uint8Array(Object.values(weights).reduce((n, w) => n + 4 * w.data.length, 0));
  const view = new DataView(bytes.buffer);
  let o = 0;
  for (const w of Object.values(weights)) {
    for (const v of w.data) {
      if (w.dtype === 'int32') view.setInt32(o, v, true);
      else view.setFloat32(o, v, true);
      o += 4;
    }
  }
  const json: TfjsModelJson = { modelTopology: { node: nodes }, weightsManifest: [{ paths: [], weights: specs }] };
  return new TfjsGraph(json, decodeWeights(specs, bytes));
}

describe('TF.js graph executor on libtorch', () => {
  test('float16 weights and TensorFlow SAME padding', () => {
    assert.equal(halfToFloat(0x3c00), 1);
    assert.equal(halfToFloat(0xc000), -2);
    assert.equal(halfToFloat(0x7bff), 65504);
    assert.equal(halfToFloat(0x0001), 2 ** -24);
    // 5 wide, kernel 3, stride 2 -> 3 outputs, 2 padding cells split 1/1; 4 wide -> 1 after only.
    assert.deepEqual(samePadding(5, 3, 2), [1, 1]);
    assert.deepEqual(samePadding(4, 3, 2), [0, 1]);
    assert.deepEqual(samePadding(6, 1, 1), [0, 0]);
  });

  test('bilinear resize weights: half-pixel centres and the legacy mode', () => {
    const half = resizeWeights(2, 4, false, true); // src = (i + 0.5) / 2 - 0.5
    assert.deepEqual([Array.from(half.lo), Array.from(half.hi), Array.from(half.frac)], [[0, 0, 0, 1], [0, 1, 1, 1], [0.75, 0.25, 0.75, 0.25]]);
    const legacy = resizeWeights(2, 4, false, false); // src = i / 2
    assert.deepEqual([Array.from(legacy.lo), Array.from(legacy.hi), Array.from(legacy.frac)], [[0, 0, 1, 1], [0, 1, 1, 1], [0, 0.5, 0, 0.5]]);
  });

  test('fused conv (asymmetric SAME padding, bias, Relu6), depthwise, pooling, StridedSlice, GatherNd', () => {
    const g = graph([
      { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' } } },
      { name: 'w', op: 'Const' }, { name: 'b', op: 'Const' }, { name: 'dw', op: 'Const' },
      { name: 'begin', op: 'Const' }, { name: 'end', op: 'Const' }, { name: 'strides', op: 'Const' }, { name: 'idx', op: 'Const' },
      {
        name: 'conv', op: '_FusedConv2D', input: ['x', 'w', 'b'],
        attr: { strides: { list: { i: ['1', '2', '2', '1'] } }, padding: { s: b64('SAME') }, fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu6')] } }, num_args: { i: '1' } },
      },
      { name: 'depth', op: 'DepthwiseConv2dNative', input: ['x', 'dw'], attr: { strides: { list: { i: ['1', '1', '1', '1'] } }, padding: { s: b64('VALID') } } },
      { name: 'pool', op: 'MaxPool', input: ['x'], attr: { ksize: { list: { i: ['1', '2', '2', '1'] } }, strides: { list: { i: ['1', '2', '2', '1'] } }, padding: { s: b64('SAME') } } },
      { name: 'slice', op: 'StridedSlice', input: ['x', 'begin', 'end', 'strides'], attr: { shrink_axis_mask: { i: '8' }, begin_mask: { i: '1' }, end_mask: { i: '1' } } },
      { name: 'gather', op: 'GatherNd', input: ['slice', 'idx'] },
    ], {
      w: { shape: [3, 3, 1, 2], data: [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0].map((v, i) => (i % 2 ? 0.5 : v)) },
      b: { shape: [2], data: [0.5, -100] },
      dw: { shape: [1, 1, 1, 2], data: [2, -1] },
      begin: { shape: [4], data: [0, 1, 0, 0], dtype: 'int32' },
      end: { shape: [4], data: [0, 3, 4, 1], dtype: 'int32' },
      strides: { shape: [4], data: [1, 1, 2, 1], dtype: 'int32' },
      idx: { shape: [2, 3], data: [0, 0, 1, 0, 1, 0], dtype: 'int32' },
    });
    // x: 1x4x4x1, values 0..15 row-major.
    const x = torch.tensor(Float32Array.from({ length: 16 }, (_, i) => i), { shape: [1, 4, 4, 1] });
    const [conv, depth, pool, slice, gather] = g.execute({ x }, ['conv', 'depth', 'pool', 'slice', 'gather']);
    // Channel 0: 3x3 sums with 'SAME' padding (0 before, 1 after) at stride 2, + 0.5, clipped at 6.
    // Output (0,0) sums rows 0-2, cols 0-2: 0+1+2+4+5+6+8+9+10 = 45 -> relu6 -> 6. Channel 1 is 0.5*sum - 100 -> 0.
    assert.deepEqual(conv.shape, [1, 2, 2, 2]);
    assert.deepEqual(conv.toArray(), [6, 0, 6, 0, 6, 0, 6, 0]);
    assert.deepEqual(depth.shape, [1, 4, 4, 2]);
    assert.deepEqual(depth.toArray().slice(0, 6), [0, 0, 2, -1, 4, -2]);
    assert.deepEqual(pool.toArray(), [5, 7, 13, 15]);
    // rows 1..2, every other column, channel 0 squeezed: [[4, 6], [8, 10]]
    assert.deepEqual(slice.shape, [1, 2, 2]);
    assert.deepEqual(slice.toArray(), [4, 6, 8, 10]);
    assert.deepEqual(gather.toArray(), [6, 8]); // slice[0,0,1], slice[0,1,0]
    assert.throws(() => g.execute({ x }, ['missing']), /no node named 'missing'/);
    assert.throws(() => g.execute({}, ['conv']), /no value fed for input 'x'/);
    g.dispose();
  });
});

describe('affine crops', () => {
  test('warpAffine samples bilinearly with pixel centres at integers, border 0', () => {
    const image = { width: 2, height: 1, channels: 3 as const, data: Uint8Array.from([0, 0, 0, 100, 50, 10]) };
    const half = warpAffine(image, [2, 0, 0, 0, 1, 0], 3, 1); // output x = 2 * source x
    assert.deepEqual(Array.from(half), [0, 0, 0, 50, 25, 5, 100, 50, 10]);
    const outside = warpAffine(image, [1, 0, 5, 0, 1, 0], 1, 1);
    assert.deepEqual(Array.from(outside), [0, 0, 0]);
  });

  test('rotated box crop: centre to centre, corners to corners, invertible', () => {
    const m = boxToOutput([50, 40], [20, 10], 200, 100, Math.PI / 2);
    assert.deepEqual(applyAffine(m, 50, 40).map((v) => +v.toFixed(9)), [100, 50]);
    // Rotated by 90 degrees: the box's "up" (0, -1) in crop space is +x in the image.
    const [ux, uy] = applyAffine(invertAffine(m), 100, 0);
    assert.ok(Math.abs(ux - 55) < 1e-9 && Math.abs(uy - 40) < 1e-9, `${ux} ${uy}`);
    const sq = squareCrop([10, 20, 30, 60], 192);
    assert.deepEqual(applyAffine(sq, 20, 40), [96, 96]);
    assert.ok(Math.abs(applyAffine(sq, 20, 15)[1]) < 1e-9); // side 40 * 1.25 = 50 -> top at y = 15
  });
});

describe('keypoint accuracy', () => {
  const person = (pts: [number, number][], size: [number, number]) => {
    // COCO-17 pixels -> our OpenPose-18 layout, normalised.
    const order = [0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3];
    return {
      body: order.map((c): [number, number, number] => (c < 0 ? [0, 0, 0] : [pts[c][0] / size[0], pts[c][1] / size[1], 1])),
      hands: [[], []] as [[], []], face: [],
    };
  };

  test('OKS, torso PCK and matching with hand values', () => {
    const gtPts: [number, number][] = Array.from({ length: 17 }, (_, k) => [10 * k, 100]);
    gtPts[5] = [0, 0]; gtPts[12] = [30, 40]; // left shoulder to right hip: 50 px
    const gt = { keypoints: gtPts.flatMap(([x, y]) => [x, y, 2]), area: 100 };
    assert.equal(torsoSize(gt), 50);
    const exact = person(gtPts, [200, 200]);
    assert.ok(Math.abs(oks(coco17FromPose(exact, [200, 200]), gt) - 1) < 1e-9);
    // Shift every point by 6 px: d^2 = 36; OKS_k = exp(-36 / (2 * 100 * (2 sigma_k)^2)).
    const shifted = person(gtPts.map(([x, y]) => [x + 6, y]), [200, 200]);
    const { COCO_SIGMAS } = { COCO_SIGMAS: [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89].map((s) => s / 10) };
    const expected = COCO_SIGMAS.reduce((s, sg) => s + Math.exp(-36 / (200 * (2 * sg) ** 2)), 0) / 17;
    assert.ok(Math.abs(oks(coco17FromPose(shifted, [200, 200]), gt) - expected) < 1e-9);
    const counts = emptyCounts([0.1, 0.2]);
    scoreImage([shifted, exact], [200, 200], [gt], counts);
    const s = summarize(counts);
    assert.equal(s.matched, 1);
    assert.equal(s.meanOks, 1); // matched to the exact prediction
    assert.equal(s.pck['0.1'], 1);
  });
});

describe('embedded detector on real photos', { skip: !existsSync(COCO) && 'needs ../shared/data/photos/coco_gt' }, () => {
  test('CenterNet + MoveNet bodies on the COCO ground truth: OKS and PCK', async () => {
    const gt = JSON.parse(readFileSync(join(COCO, 'test_coco_wholebody.json'), 'utf8'));
    const detector = new EmbeddedPoseDetector({ hands: false });
    const counts = emptyCounts([0.1, 0.2]);
    const perImage: Record<string, number> = {};
    for (const im of gt.images as { id: number; file_name: string }[]) {
      const image = await readImage(join(COCO, im.file_name), { channels: 3 });
      const frame = await detector.detect(image);
      const truth = (gt.annotations as { image_id: number; keypoints: number[]; area: number; face_valid: boolean; face_kpts: number[]; face_box: [number, number, number, number] }[])
        .filter((a) => a.image_id === im.id)
        .map((a) => ({ keypoints: a.keypoints, area: a.area, face: a.face_valid ? a.face_kpts : undefined, faceBox: a.face_box }));
      const c = emptyCounts();
      scoreImage(frame.persons, [image.width, image.height], truth, c);
      scoreImage(frame.persons, [image.width, image.height], truth, counts);
      perImage[im.file_name] = summarize(c).meanOks;
    }
    const s = summarize(counts);
    // Measured: one clear person (785) at OKS 0.975; all 12 labelled persons matched, mean OKS 0.78.
    assert.ok(perImage['000000000785.jpg'] > 0.95, JSON.stringify(perImage));
    assert.equal(s.persons, 12);
    assert.ok(s.matched >= 11, JSON.stringify(s));
    assert.ok(s.meanOks > 0.72, JSON.stringify(s));
    assert.ok(s.pck['0.2'] > 0.65, JSON.stringify(s));
    // FaceMesh's 68 points against COCO-WholeBody's face labels: error / sqrt(face box area).
    assert.ok(s.facePoints >= 68 && s.faceNme < 0.07, JSON.stringify(s));
  });

  test('the 468 -> 68 face map uses distinct FaceMesh vertices', () => {
    assert.equal(IBUG68_FROM_MESH.length, 68);
    assert.equal(new Set(IBUG68_FROM_MESH).size, 68);
    assert.ok(IBUG68_FROM_MESH.every((i) => i >= 0 && i < 468));
  });

  test('a full-body photo: one person, feet below the head, hands near the wrists', async () => {
    const image = await readImage(join(SHARED, 'photos', 'pexels_lunge.jpg'), { channels: 3 });
    const frame = await new EmbeddedPoseDetector().detect(image);
    assert.equal(frame.persons.length, 1);
    const body = frame.persons[0].body;
    // Hand-read positions in this photo: shoulders at y ~ 0.55, ankles at y ~ 0.87-0.90.
    assert.ok(Math.abs(body[2][1] - 0.55) < 0.05 && Math.abs(body[5][1] - 0.55) < 0.05, JSON.stringify(body.slice(0, 6)));
    assert.ok(body[10][1] > 0.8 && body[13][1] > 0.8, JSON.stringify([body[10], body[13]]));
    // Both hands are clearly visible: found (presence ~0.99 measured), their wrist point on the body's wrist.
    for (const [side, wrist] of [[0, 7], [1, 4]] as const) {
      const hand = frame.persons[0].hands[side];
      assert.ok(hand[0][2] > 0.9, `hand ${side} presence ${hand[0][2]}`);
      assert.ok(Math.hypot(hand[0][0] - body[wrist][0], hand[0][1] - body[wrist][1]) < 0.02, `hand ${side}: ${hand[0]} vs wrist ${body[wrist]}`);
    }
  });
});

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { readImage, type Image } from '../../src/io/image.ts';
import { encodeVideo } from '../../src/io/video.ts';
import type { PoseDetector } from '../../src/pose/detector.ts';
import { EmbeddedPoseDetector } from '../../src/pose/embedded/detector.ts';
import { readKeypointJson } from '../../src/pose/keypoint-json.ts';
import {
  DEFAULT_FILTERS, bucketFor, formatSummaryTable, judgeClip, prepareDataset, type ClipStats, type PrepareSummary,
} from '../../src/train/dataset-prepare.ts';
import { PHOTO, cropPhoto } from '../eval/photo-frames.ts';
import { main } from '../../src/cli/main.ts';
import { estimateBackgroundMotion, summarizeCameraMotion, type GrayFrame } from '../../src/train/dataset-prepare-motion.ts';


/** A smooth texture sampled at a (sub-pixel) offset: f(x + dx, y + dy). */
function texture(w: number, h: number, dx: number, dy: number): GrayFrame {
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = x + dx;
      const v = y + dy;
      data[y * w + x] = 0.5 + 0.2 * Math.sin(u / 3.1) * Math.cos(v / 4.3) + 0.15 * Math.sin((u + 2 * v) / 5.7);
    }
  }
  return { width: w, height: h, data };
}

test('background motion: a known sub-pixel shift is recovered, a moving person box is ignored', () => {
  // Content moves by (-2.4, +1.3) px: frame b at (x, y) shows what frame a had at (x + 2.4, y - 1.3).
  const a = texture(128, 96, 0, 0);
  const b = texture(128, 96, 2.4, -1.3);
  const m = estimateBackgroundMotion(a, b)!;
  assert.ok(Math.abs(m.dx + 2.4) < 0.05 && Math.abs(m.dy - 1.3) < 0.05, `shift (${m.dx}, ${m.dy})`);
  assert.ok(m.residual < 0.01, `residual ${m.residual}`);
  // A "person" in the middle third moves differently; excluded, it does not disturb the estimate.
  const c = texture(128, 96, 2.4, -1.3);
  for (let y = 20; y < 76; y++) for (let x = 40; x < 88; x++) c.data[y * 128 + x] = a.data[y * 128 + x + 6] ?? 0;
  const box: [number, number, number, number] = [40 / 128, 20 / 96, 88 / 128, 76 / 96];
  const withPerson = estimateBackgroundMotion(a, c, [box])!;
  assert.ok(Math.abs(withPerson.dx + 2.4) < 0.05 && Math.abs(withPerson.dy - 1.3) < 0.05, `shift (${withPerson.dx}, ${withPerson.dy})`);
  // A flat frame has no texture to match: not measured.
  const flat: GrayFrame = { width: 128, height: 96, data: new Float32Array(128 * 96).fill(0.5) };
  assert.equal(estimateBackgroundMotion(flat, flat), undefined);
});

test('camera-motion summary: speed, excursion and cuts by hand', () => {
  const p = (dx: number, dy: number, residual = 0.01) => ({ dx, dy, residual, blocks: 10 });
  // shifts of 3,4 -> |5|, then (-3,-4) back, then a cut, one unmeasured pair
  const s = summarizeCameraMotion([p(3, 4), p(3, 4), p(-3, -4), p(50, 0, 0.3), undefined], 100, 0.08);
  assert.equal(s.pairs, 5);
  assert.equal(s.measured, 4);
  assert.deepEqual(s.cuts, [3]);
  assert.ok(Math.abs(s.speed - 0.05) < 1e-12); // median of 5, 5, 5, 50 = 5 px of 100
  assert.ok(Math.abs(s.excursion - 0.1) < 1e-12); // reaches (6, 8) = 10 px, the cut is not accumulated
  assert.ok(Math.abs(s.maxResidual - 0.3) < 1e-12);
});

test('filters: each rule and its threshold', () => {
  const camera = { pairs: 19, measured: 19, speed: 0.001, excursion: 0.01, cuts: [], maxResidual: 0.02 };
  const good: ClipStats = { frames: 20, size: [512, 512], keypointCoverage: 0.9, badPoseFrames: 2, maxPersons: 1, faceFrames: 10, medianFaceScore: 0.8, camera };
  assert.deepEqual(judgeClip(good, DEFAULT_FILTERS, 17), []);
  const only = (s: Partial<ClipStats>, min = 17) => judgeClip({ ...good, ...s }, DEFAULT_FILTERS, min).map((r) => r.filter);
  assert.deepEqual(only({ badPoseFrames: 3 }), ['keypoints']); // 15% > 10%
  assert.deepEqual(only({ faceFrames: 9 }), ['no-face']); // 45% < 50%
  assert.deepEqual(only({ medianFaceScore: 0.59 }), ['low-face-score']);
  assert.deepEqual(only({ camera: { ...camera, speed: 0.011 } }), ['camera-motion']);
  assert.deepEqual(only({ camera: { ...camera, excursion: 0.11 } }), ['camera-motion']);
  assert.deepEqual(only({ camera: { ...camera, cuts: [4] } }), ['shot-change']);
  assert.deepEqual(only({}, 21), ['too-short']);
  // an unmeasurable background (NaN speed) does not drop a clip
  assert.deepEqual(only({ camera: { ...camera, measured: 0, speed: Number.NaN, excursion: 0 } }), []);
  assert.equal(bucketFor(1080, 1920), 'vec');
  assert.equal(bucketFor(1920, 1080), 'rec');
  assert.equal(bucketFor(512, 512), 'rec');
});

/** A 224x224 crop of the photo at (x0, y0) with a little deterministic noise. */
const crop = (photo: Image, x0: number, y0: number, seed: number) => cropPhoto(photo, x0, y0, seed, 224, 2);

function pattern(i: number, size = 224): Image {
  const d = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) d[(y * size + x) * 3 + c] = 128 + 60 * Math.sin(x / 7 + c) * Math.cos(y / 5) + i;
  return { width: size, height: size, channels: 3, data: d };
}

/** Counts the frames the detector sees, to prove what a resumed run skips. */
function countingDetector(): PoseDetector & { calls: number } {
  // body only (the face keypoints and hands are not what this test checks), tracked between detections
  const inner = new EmbeddedPoseDetector({ hands: false, face: false, redetectEvery: 3 });
  const d = {
    name: 'default',
    calls: 0,
    detect: (image: Image) => {
      d.calls++;
      return inner.detect(image);
    },
    reset: () => inner.reset(),
    dispose: () => inner.dispose(),
  };
  return d;
}

test('dataset prepare: layout, path lists, filters, summary; a re-run resumes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dataset-prepare-'));
  try {
    const photo = await readImage(PHOTO, { channels: 3 });
    const frames = 2;
    const videos = {
      still: join(dir, 'still.mp4'), // a fixed camera on a person: kept
      pan: join(dir, 'pan.mp4'), // the camera pans 8 px (3.6% of the width) per frame: camera-motion
      empty: join(dir, 'empty.mp4'), // no person, no face: keypoints + no-face
    };
    await encodeVideo(videos.still, Array.from({ length: frames }, (_, i) => crop(photo, 16, 16, i + 1)), { fps: 8 });
    await encodeVideo(videos.pan, Array.from({ length: frames }, (_, i) => crop(photo, 8 * i, 16, i + 1)), { fps: 8 });
    await encodeVideo(videos.empty, Array.from({ length: frames }, (_, i) => pattern(i)), { fps: 8 });
    const root = join(dir, 'data');
    const inputs = [videos.still, videos.pan, videos.empty];
    const detector = countingDetector();
    const progress: number[] = [];
    const options = { detector, size: [224, 224] as [number, number], minFrames: 2, onProgress: (p: { frames: number }) => progress.push(p.frames) };
    const summary = await prepareDataset(inputs, root, options);

    assert.deepEqual(summary.clips.map((c) => c.status), ['kept', 'dropped', 'dropped']);
    assert.deepEqual(summary.clips[1].reasons.map((r) => r.filter), ['camera-motion']);
    assert.deepEqual(summary.clips[2].reasons.map((r) => r.filter).sort(), ['keypoints', 'no-face']);
    // the pan's measured speed is its true 8 px of 224 per frame
    assert.ok(Math.abs(summary.clips[1].stats!.camera.speed - 8 / 224) < 0.003, `pan speed ${summary.clips[1].stats!.camera.speed}`);
    assert.ok(summary.clips[0].stats!.camera.speed < 0.002);
    assert.equal(detector.calls, 3 * frames);
    assert.deepEqual(progress, Array.from({ length: 3 * frames }, (_, i) => i + 1));
    assert.deepEqual({ kept: summary.kept, dropped: summary.dropped, errors: summary.errors }, { kept: 1, dropped: 2, errors: 0 });
    assert.deepEqual(summary.byReason, { 'camera-motion': 1, keypoints: 1, 'no-face': 1 });

    // Layout: the kept clip's three folders of frame_i.png, its keypoints and marker; dropped clips leave no frames.
    const clip = join(root, 'rec', '00001');
    for (const sub of ['images', 'poses', 'faces']) {
      assert.deepEqual(readdirSync(join(clip, sub)).sort(), Array.from({ length: frames }, (_, i) => `frame_${i}.png`), sub);
    }
    assert.ok(existsSync(join(clip, 'clip.json')));
    assert.ok(!existsSync(join(root, 'rec', '00002')) && !existsSync(join(root, 'rec', '00003')));
    assert.deepEqual(readdirSync(join(root, 'dropped')).sort(), ['00002.json', '00003.json']);
    // Path lists as the reference reads them: clip folder paths, one per line.
    assert.equal(readFileSync(join(root, 'video_rec_path.txt'), 'utf8'), `${clip}\n`);
    assert.equal(readFileSync(join(root, 'video_vec_path.txt'), 'utf8'), '');
    const written = JSON.parse(readFileSync(join(root, 'summary.json'), 'utf8')) as PrepareSummary;
    assert.deepEqual(written.clips.map((c) => c.status), ['kept', 'dropped', 'dropped']);

    // The frames are the decoded video (H.264 at crf 18: within a few grey levels of the source crop).
    const img = await readImage(join(clip, 'images', 'frame_1.png'), { channels: 3 });
    const src = crop(photo, 16, 16, 2);
    let err = 0;
    for (let i = 0; i < img.data.length; i++) err += Math.abs(img.data[i] - src.data[i]);
    assert.ok(err / img.data.length < 4, `mean abs difference ${err / img.data.length}`);
    // The face mask: one channel, 0 or 255, white exactly over the recorded face region.
    const maskFile = join(clip, 'faces', 'frame_0.png');
    assert.equal((await sharp(maskFile).metadata()).channels, 1);
    const mask = await sharp(maskFile).extractChannel(0).raw().toBuffer();
    assert.ok(mask.every((v) => v === 0 || v === 255));
    const white = mask.filter((v) => v === 255).length;
    assert.ok(white > 100 && white < 0.25 * 224 * 224, `face mask area ${white}`);
    // Keypoints: 3 frames, one person whose face centre lies inside the mask.
    const kp = await readKeypointJson(join(clip, 'keypoints.json'));
    assert.equal(kp.frames.length, frames);
    const nose = kp.frames[0].persons[0].body[0];
    assert.equal(mask[Math.trunc(nose[1] * 224) * 224 + Math.trunc(nose[0] * 224)], 255, 'the nose is inside the face mask');
    // The skeleton image is not empty.
    const pose = await readImage(join(clip, 'poses', 'frame_0.png'), { channels: 3 });
    assert.ok(pose.data.some((v) => v > 100));
    assert.match(formatSummaryTable(summary), /00002\s+dropped\s+rec\s+2 .*camera-motion/);

    // Re-run: every clip has a marker, nothing is detected again.
    detector.calls = 0;
    const again = await prepareDataset(inputs, root, options);
    assert.equal(detector.calls, 0);
    assert.deepEqual(again.clips.map((c) => c.status), ['kept', 'dropped', 'dropped']);

    // The CLI on the finished root: everything is skipped, the table printed, exit 0; bad options are refused.
    const cli = ['dataset', 'prepare', ...inputs, '-o', root, '--size', '224x224', '--min-frames', '2'];
    assert.equal(await main(cli), 0);
    assert.equal(await main([...cli, '--max-camera-speed', 'fast']), 1);
    assert.equal(await main([...cli, '--missing-face', 'grey']), 1);

    // A run killed inside clip 1 leaves frames but no clip.json (and lists without it): clip 1 is redone.
    rmSync(join(clip, 'clip.json'));
    rmSync(join(clip, 'images', 'frame_1.png'));
    writeFileSync(join(root, 'video_rec_path.txt'), '');
    detector.calls = 0;
    const resumed = await prepareDataset(inputs, root, options);
    assert.equal(detector.calls, frames, 'clip 1 is redone, clips 2 and 3 are skipped');
    assert.deepEqual(resumed.clips.map((c) => c.status), ['kept', 'dropped', 'dropped']);
    assert.deepEqual(readdirSync(join(clip, 'images')).sort(), Array.from({ length: frames }, (_, i) => `frame_${i}.png`));
    assert.equal(readFileSync(join(root, 'video_rec_path.txt'), 'utf8'), `${clip}\n`);

    // The same root with a different input list is refused, naming the marker and both sources.
    await assert.rejects(prepareDataset([videos.pan], root, options), (e: Error) => e.message.includes('00001/clip.json') && e.message.includes('still.mp4') && e.message.includes('pan.mp4'));
    // An unreadable video is an error in the summary, not a crash, and gets no marker (the next run retries it).
    const broken = join(dir, 'broken.mp4');
    writeFileSync(broken, 'not a video');
    const errRoot = join(dir, 'err');
    const failed = await prepareDataset([broken], errRoot, options);
    assert.deepEqual([failed.errors, failed.clips[0].status, failed.clips[0].reasons[0].filter], [1, 'error', 'error']);
    assert.match(failed.clips[0].reasons[0].detail, /broken\.mp4/);
    assert.ok(!existsSync(join(errRoot, 'dropped')) && !existsSync(join(errRoot, 'rec', '00001')));
    assert.equal((await prepareDataset([broken], errRoot, options)).errors, 1);
    // A missing input is reported before anything runs.
    mkdirSync(join(dir, 'x'));
    await assert.rejects(prepareDataset([join(dir, 'nope.mp4')], join(dir, 'x'), options), /nope\.mp4 does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Image } from '../../src/io/image.ts';
import { decodeFrames, decodeVideo, encodeVideo, hasAudio, probeVideo } from '../../src/io/video.ts';
import { runMediaTool } from '../../src/io/ffmpeg.ts';
import { gradientImage, maxAbsDiff, meanAbsDiff, SHARED_DIR, withTempDir } from './helpers.ts';

async function collect(frames: AsyncIterable<Image>): Promise<Image[]> {
  const out: Image[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

const clip = Array.from({ length: 12 }, (_, t) => gradientImage(64, 48, t));

test('mp4 encode then decode: frame count, fps, size and pixels within codec tolerance', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'clip.mp4');
    const progress: number[] = [];
    const result = await encodeVideo(path, clip, { fps: 24, onProgress: (p) => progress.push(p.frames) });
    assert.deepEqual(result, { frames: 12, width: 64, height: 48 });
    assert.deepEqual(progress, Array.from({ length: 12 }, (_, i) => i + 1));

    const info = await probeVideo(path);
    assert.deepEqual([info.width, info.height, info.frameCount, info.fps, info.codec], [64, 48, 12, 24, 'h264']);
    assert.ok(Math.abs(info.durationSeconds - 0.5) < 0.01);

    const frames = await collect(decodeVideo(path));
    assert.equal(frames.length, 12);
    frames.forEach((f, t) => {
      assert.deepEqual([f.width, f.height, f.channels], [64, 48, 3]);
      assert.ok(meanAbsDiff(f.data, clip[t].data) < 1.5, `frame ${t}: mean error ${meanAbsDiff(f.data, clip[t].data)}`);
      assert.ok(maxAbsDiff(f.data, clip[t].data) <= 12);
    });
    assert.deepEqual(await readdir(dir), ['clip.mp4']);
  }));

test('a lossless mp4 round trip is unbiased', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'lossless.mp4');
    await encodeVideo(path, clip.slice(0, 2), { fps: 10, crf: 0 });
    const [frame] = await collect(decodeVideo(path, { maxFrames: 1 }));
    let bias = 0;
    for (let i = 0; i < frame.data.length; i++) bias += frame.data[i] - clip[0].data[i];
    // What is left is 4:2:0 chroma subsampling, not a colour-matrix mismatch.
    assert.ok(Math.abs(bias / frame.data.length) < 0.1, `bias ${bias / frame.data.length}`);
    assert.ok(meanAbsDiff(frame.data, clip[0].data) < 0.6);
  }));

test('decode options: resize, fps resampling, max frames, progress, early stop', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'clip.mp4');
    await encodeVideo(path, clip, { fps: 24 });
    const small = await collect(decodeVideo(path, { width: 32 }));
    assert.deepEqual([small.length, small[0].width, small[0].height], [12, 32, 24]);
    const totals: (number | undefined)[] = [];
    const half = await collect(decodeVideo(path, { fps: 12, onProgress: (p) => totals.push(p.total) }));
    assert.equal(half.length, 6);
    assert.deepEqual(totals, [6, 6, 6, 6, 6, 6]);
    assert.equal((await collect(decodeVideo(path, { maxFrames: 5 }))).length, 5);
    for await (const frame of decodeVideo(path)) {
      assert.equal(frame.width, 64);
      break; // stopping early must stop ffmpeg and not hang
    }
  }));

test('decode only chosen frames (indices): the same pixels as those of a full decode, progress counts them', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'clip.mp4');
    await encodeVideo(path, clip, { fps: 24 });
    const all = await collect(decodeVideo(path));
    const progress: string[] = [];
    const some = await collect(decodeVideo(path, { indices: [0, 3, 7], onProgress: (p) => progress.push(`${p.frames}/${p.total}`) }));
    assert.equal(some.length, 3);
    [0, 3, 7].forEach((i, k) => assert.deepEqual(some[k]!.data, all[i]!.data, `frame ${i}`));
    assert.deepEqual(progress, ['1/3', '2/3', '3/3']);
  }));

test('encode with audio: the track is cut to the frames\' length; audio needs an .mp4', () =>
  withTempDir(async (dir) => {
    const tone = join(dir, 'tone.mp4');
    await encodeVideo(join(dir, 'silent.mp4'), clip, { fps: 24 });
    assert.equal(await hasAudio(join(dir, 'silent.mp4')), false);
    await runMediaTool('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3', '-c:a', 'aac', tone], 'tone');
    const out = join(dir, 'with-audio.mp4');
    await encodeVideo(out, clip, { fps: 24, audio: { path: tone, seconds: 0.5 } });
    assert.ok(await hasAudio(out));
    const seconds = Number((await runMediaTool('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=duration', '-of', 'csv=p=0', out], 'probe')).toString());
    assert.ok(Math.abs(seconds - 0.5) < 0.05, `audio ${seconds} s`);
    await assert.rejects(encodeVideo(join(dir, 'x.gif'), clip, { fps: 24, audio: { path: tone, seconds: 0.5 } }), /audio needs an \.mp4 output/);
    assert.ok(!existsSync(join(dir, 'x.gif')));
  }));

test('gif encode then decode', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'clip.gif');
    await encodeVideo(path, clip.slice(0, 6), { fps: 10 });
    const info = await probeVideo(path);
    assert.deepEqual([info.width, info.height, info.frameCount, info.codec], [64, 48, 6, 'gif']);
    assert.ok(Math.abs(info.fps - 10) < 0.5);
    const frames = await collect(decodeFrames(path));
    assert.equal(frames.length, 6);
    frames.forEach((f, t) => assert.ok(meanAbsDiff(f.data, clip[t].data) < 6, `gif frame ${t}`));
  }));

test('odd sizes are padded to even for H.264, or refused on request', () =>
  withTempDir(async (dir) => {
    const odd = [gradientImage(63, 47), gradientImage(63, 47, 1)];
    const result = await encodeVideo(join(dir, 'odd.mp4'), odd, { fps: 5 });
    assert.deepEqual([result.width, result.height], [64, 48]);
    const [frame] = await collect(decodeVideo(join(dir, 'odd.mp4'), { maxFrames: 1 }));
    assert.deepEqual([frame.width, frame.height], [64, 48]);
    // Inside the original area the picture is intact; the padding column is black.
    const px = (img: Image, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
    px(frame, 20, 20).forEach((v, c) => assert.ok(Math.abs(v - px(odd[0], 20, 20)[c]) <= 4));
    assert.ok(px(frame, 63, 20).every((v) => v < 40));

    await assert.rejects(encodeVideo(join(dir, 'refused.mp4'), odd, { fps: 5, oddSize: 'error' }), /even width and height, got 63x47/);
    assert.equal(existsSync(join(dir, 'refused.mp4')), false);
  }));

test('a failing encode leaves no partial file', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'broken.mp4');
    async function* frames() {
      yield gradientImage(64, 48, 0);
      yield gradientImage(64, 48, 1);
      yield gradientImage(32, 32, 2);
    }
    await assert.rejects(encodeVideo(path, frames(), { fps: 24 }), /frame 2 is 32x32x3, expected 64x48x3/);
    assert.deepEqual(await readdir(dir), []);
    await assert.rejects(encodeVideo(join(dir, 'x.avi'), clip, { fps: 24 }), /unsupported extension '\.avi'/);
    await assert.rejects(encodeVideo(join(dir, 'none.mp4'), [], { fps: 24 }), /no frames/);
    assert.deepEqual(await readdir(dir), []);
  }));

test('missing and corrupt videos give errors naming the file and quoting ffmpeg', () =>
  withTempDir(async (dir) => {
    await assert.rejects(probeVideo(join(dir, 'none.mp4')), /cannot probe video .*none\.mp4: file not found/);
    const bad = join(dir, 'bad.mp4');
    await writeFile(bad, Buffer.alloc(4096, 7));
    await assert.rejects(probeVideo(bad), (err: Error) => err.message.includes(bad) && /ffprobe exited with code 1: .*Invalid data/s.test(err.message));
    await assert.rejects(collect(decodeVideo(bad)), (err: Error) => err.message.includes(bad) && /Invalid data/.test(err.message));
    await assert.rejects(collect(decodeFrames(join(dir, 'nothing'))), /cannot decode frames from .*nothing: not found/);
  }));

test('a missing ffmpeg says how to install it', () =>
  withTempDir(async (dir) => {
    const saved = process.env.FFMPEG_PATH;
    process.env.FFMPEG_PATH = join(dir, 'no-ffmpeg-here');
    try {
      await assert.rejects(encodeVideo(join(dir, 'a.mp4'), clip, { fps: 24 }), /ffmpeg not found .*apt-get install ffmpeg/);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      if (saved === undefined) delete process.env.FFMPEG_PATH;
      else process.env.FFMPEG_PATH = saved;
    }
  }));

const people = join(SHARED_DIR, 'data/video/people_426x240.mp4');

test('decodes the real people_426x240.mp4 clip', { skip: !existsSync(people) && 'no ../shared data' }, async () => {
  const info = await probeVideo(people);
  assert.deepEqual([info.width, info.height, info.frameCount, info.codec], [426, 240, 300, 'h264']);
  assert.ok(Math.abs(info.fps - 30000 / 1001) < 1e-9);
  let count = 0;
  let lastProgress = 0;
  for await (const frame of decodeVideo(people, { onProgress: (p) => (lastProgress = p.frames) })) {
    assert.equal(frame.data.length, 426 * 240 * 3);
    if (count === 0) {
      const mean = frame.data.reduce((s, v) => s + v, 0) / frame.data.length;
      assert.ok(mean > 20 && mean < 235, `first frame mean ${mean}`);
    }
    count++;
  }
  assert.deepEqual([count, lastProgress], [300, 300]);
});

test('a truncated mp4 whose index is at the front decodes with a warning naming both frame counts', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'clip.mp4');
    const frames = Array.from({ length: 30 }, (_, t) => gradientImage(64, 48, t * 8));
    await encodeVideo(path, frames, { fps: 30, crf: 0 }); // +faststart: the index is written first
    const bytes = readFileSync(path);
    const cut = join(dir, 'cut.mp4');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.4)));
    const notices: string[] = [];
    const decoded = await collect(decodeVideo(cut, { onNotice: (m) => notices.push(m) }));
    assert.ok(decoded.length < 30, `${decoded.length} frames`);
    assert.equal(notices.length, 1, notices.join('\n'));
    assert.match(notices[0]!, new RegExp(`cut\\.mp4: decoded ${decoded.length} frame\\(s\\) where its container lists 30; the file is probably truncated`));
    // the whole file decodes without one
    const whole: string[] = [];
    assert.equal((await collect(decodeVideo(path, { onNotice: (m) => whole.push(m) }))).length, 30);
    assert.deepEqual(whole, []);
  }));

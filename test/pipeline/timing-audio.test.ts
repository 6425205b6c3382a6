// Timing and audio end to end (issue 16), with real ffmpeg and the shipped miniature: a 30 fps driving video with
// an audio track, made here from a real photo, is sampled at the weights' training rate (5 fps) or at --stride 2;
// the output lasts as long as the driving video within one frame and carries its audio unless --no-audio.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { mediaToolPath } from '../../src/io/ffmpeg.ts';
import { hasAudio, probeVideo } from '../../src/io/video.ts';
import { runAnimate } from '../../src/cli/animate.ts';
import { StableAnimator } from '../../src/pipeline/stable-animator.ts';
import { writeAnimation } from '../../src/pipeline/outputs.ts';
import { PHOTO } from '../eval/photo-frames.ts';

torch.setNumThreads(1);
const dir = mkdtempSync(join(tmpdir(), 'timing-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// one second at 30 fps: the photo panning left and right, a 440 Hz tone
const driving = join(dir, 'dance.mp4');
execFileSync(mediaToolPath('ffmpeg'), ['-v', 'error', '-framerate', '30', '-loop', '1', '-i', PHOTO, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
  '-filter_complex', "[0:v]scale=288:288,crop=256:256:'16+16*sin(2*PI*t)':16,format=yuv420p[v]", '-map', '[v]', '-map', '1:a',
  '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', driving]);

function audioSeconds(path: string): number {
  const out = execFileSync(mediaToolPath('ffprobe'), ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=duration', '-of', 'csv=p=0', path]);
  return Number(out.toString().trim());
}

async function animate(out: string, extra: string[]): Promise<string> {
  const lines: string[] = [];
  const code = await runAnimate(['--weights', 'weights/mini', '--ref', PHOTO, '--driving', driving, '--steps', '1', '--align', 'svd', '-o', out, ...extra], (m) => lines.push(m));
  assert.equal(code, 0, lines.join('\n'));
  return lines.join('\n');
}

test('the driving video: 30 frames at 30 fps with an audio track', async () => {
  const info = await probeVideo(driving);
  assert.deepEqual([info.fps, info.frameCount], [30, 30]);
  assert.ok(await hasAudio(driving));
});

test('default rate (the weights\' 5 fps) and --stride 2: the output lasts as long as the driving video, with its audio', async () => {
  const source = await probeVideo(driving);
  for (const [extra, frames, fps] of [[[], 5, 5], [['--stride', '2'], 15, 15]] as const) {
    const out = join(dir, `out-${frames}.mp4`);
    const log = await animate(out, [...extra]);
    assert.match(log, new RegExp(`timing: ${frames} of 30 driving frame\\(s\\)`));
    assert.match(log, /with the driving video's audio/);
    const info = await probeVideo(out);
    assert.deepEqual([info.frameCount, info.fps], [frames, fps], log);
    assert.ok(Math.abs(info.durationSeconds - source.durationSeconds) <= 1 / fps + 1e-6, `${info.durationSeconds} s vs ${source.durationSeconds} s`);
    assert.ok(await hasAudio(out), 'the output has the audio stream');
    const audio = audioSeconds(out);
    assert.ok(Math.abs(audio - frames / fps) < 0.05, `audio cut to the animation: ${audio} s`);
  }
});

test('--no-audio drops it; --fps 10 samples every 3rd frame', async () => {
  const out = join(dir, 'silent.mp4');
  const log = await animate(out, ['--no-audio', '--fps', '10', '--max-frames', '4']);
  assert.match(log, /timing: 4 of 30 driving frame\(s\), 10 fps from 30 fps/);
  const info = await probeVideo(out);
  assert.deepEqual([info.frameCount, info.fps], [4, 10]);
  assert.equal(await hasAudio(out), false);
});

test('the library: stride, fit and audio as options; writeAnimation plays at the sampled rate with the audio', async () => {
  const animator = StableAnimator.fromPretrained('weights/mini');
  const result = await animator.animate(PHOTO, driving, { stride: 10, fit: 'pad', numInferenceSteps: 1, align: 'svd' });
  assert.deepEqual([result.frames.length, result.fps, result.audio], [3, 3, driving], 'every 10th of 30 frames at 30 fps: 3 at 3 fps');
  assert.deepEqual(result.driving.sampling.indices, [0, 10, 20]);
  assert.equal(result.driving.framing.mode, 'pad');
  const out = join(dir, 'library.mp4');
  assert.equal((await writeAnimation(out, result)).audio, true);
  const info = await probeVideo(out);
  assert.deepEqual([info.frameCount, info.fps], [3, 3]);
  assert.ok(await hasAudio(out));
  const silent = await animator.animate(PHOTO, driving, { stride: 10, numInferenceSteps: 1, align: 'svd', audio: false, maxFrames: 1 });
  assert.equal(silent.audio, undefined);
});

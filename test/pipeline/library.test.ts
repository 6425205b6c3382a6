// The library entry point: a photo and a driving input animated in a few lines, through the same front half
// as the CLI (prepare.ts), on the shipped miniature.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { StableAnimator } from '../../src/pipeline/stable-animator.ts';
import { writeFrames } from '../../src/pipeline/outputs.ts';
import { probeVideo } from '../../src/io/video.ts';
import { heldOutCase } from '../../src/mini/held-out-case.ts';
import { runIdentities } from '../../src/mini/synth/dataset.ts';
import { loadMotionFile } from '../../src/mini/synth/motion.ts';
import { writeKeypointJson } from '../../src/pose/keypoint-json.ts';
import { runAnimate } from '../../src/cli/animate.ts';
import { PHOTO } from '../eval/photo-frames.ts';

torch.setNumThreads(1);
const dir = mkdtempSync(join(tmpdir(), 'library-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('StableAnimator: load once, animate a photo with driving keypoints, write a video', async () => {
  const motion = await loadMotionFile(new URL('../../assets/motion/bvh/ad_dab.bvh', import.meta.url).pathname);
  const c = heldOutCase({ identity: runIdentities(0, 8)[6]!, motion, frames: 4, size: 128, seed: 2 });
  const driving = { size: [128, 128] as [number, number], frames: c.driving };

  // the five lines a user writes
  const animator = StableAnimator.fromPretrained('weights/mini');
  const { frames, driving: used } = await animator.animate(c.reference, driving, { numInferenceSteps: 2, seed: 1 });
  await writeFrames(join(dir, 'out.mp4'), frames, { fps: 8 });

  assert.equal(frames.length, 4);
  assert.deepEqual([frames[0]!.width, frames[0]!.height], [128, 128], "the miniature's own size");
  assert.equal(used.images.length, 4);
  assert.ok(existsSync(join(dir, 'out.mp4')));
  assert.equal((await probeVideo(join(dir, 'out.mp4'))).frameCount, 4);
  // deterministic for a seed
  const again = await animator.animate(c.reference, driving, { numInferenceSteps: 2, seed: 1 });
  assert.deepEqual(again.frames[3]!.data, frames[3]!.data);
});

test("animate --weights weights/mini with a real photo: the miniature's face net, size, window and skeleton style", async () => {
  const motion = await loadMotionFile(new URL('../../assets/motion/bvh/ad_dab.bvh', import.meta.url).pathname);
  const c = heldOutCase({ identity: runIdentities(0, 8)[6]!, motion, frames: 4, size: 128, seed: 2 });
  const keypoints = join(dir, 'driving.json');
  await writeKeypointJson(keypoints, { size: [128, 128], frames: c.driving });
  const out = join(dir, 'cli.mp4');
  const lines: string[] = [];
  // used to fail after loading every model: "IResNet: expected faces [B,3,32,32], got [1,3,112,112]" (issue 18)
  assert.equal(await runAnimate(['--weights', 'weights/mini', '--ref', PHOTO, '--driving', keypoints, '--steps', '1', '-o', out, '--save-poses', join(dir, 'poses')], (m) => lines.push(m)), 0);
  const info = await probeVideo(out);
  assert.deepEqual([info.width, info.height, info.frameCount], [128, 128, 4], lines.join('\n'));
  assert.match(lines.join('\n'), /reference face at \[/);
});

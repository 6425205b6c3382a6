// `stable-animator train` as a user runs it: a config file, tiny weights on disk, a process killed with
// SIGKILL after its first checkpoint and restarted with --resume, ending with exactly the weights of an
// uninterrupted run (computed in this process from the same initial weights).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { RawTensor } from '../../src/torch/index.ts';
import { readSafetensors } from '../../src/torch/serialization/index.ts';
import { resolveTrainConfig } from '../../src/train/animator/train-config.ts';
import { trainAnimator } from '../../src/train/animator/trainer.ts';
import { writeTinyWeights } from '../pipeline/fake-weights.ts';
import { tinyComponents } from '../pipeline/tiny.ts';
import { TINY_BUCKETS, writeTinyDataset } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'stable-animator.js');
const root = mkdtempSync(join(tmpdir(), 'sa-train-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

function run(args: string[], onLine?: (line: string, kill: () => void) => void): Promise<{ code: number | null; signal: string | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      for (const line of d.toString().split('\n')) onLine?.(line, () => child.kill('SIGKILL'));
    });
    child.stdout.resume();
    child.on('close', (code, signal) => resolve({ code, signal, err }));
  });
}

test('train: killed with SIGKILL after a checkpoint, resumed with --resume, ends as an uninterrupted run', async () => {
  const data = join(root, 'data');
  await writeTinyDataset(data, { clips: { rec: [4, 4], vec: [] } });
  const weights = writeTinyWeights(join(root, 'weights'), 0).args;
  const flag = (name: string) => weights[weights.indexOf(name) + 1]!;
  const settings = {
    data, buckets: [TINY_BUCKETS[0]], numFrames: 2, frameStride: 1, steps: 3, lr: 1e-3, checkpointEvery: 1, keepCheckpoints: 2,
    validateEvery: 0, faceEmbeddings: 'zeros', gradientCheckpointing: false, vaeEncodeChunk: 2, logEvery: 1,
  };
  const out = join(root, 'run');
  const cfg = join(root, 'train.json');
  writeFileSync(cfg, JSON.stringify({
    ...settings, output: out, unet: flag('--unet'), poseNet: flag('--pose-net'), faceEncoder: flag('--face-encoder'), arcface: flag('--arcface'), svd: flag('--svd'),
  }));

  // killed as soon as the step-1 checkpoint is on disk (a fixed delay raced the run to its last step on a quiet machine)
  const ckpt1 = join(out, 'checkpoints', 'checkpoint-1.safetensors');
  const killed = await run(['train', '--config', cfg], (line, kill) => {
    if (!/^animator: step 1\/3/.test(line)) return;
    const poll = setInterval(() => {
      if (!existsSync(ckpt1)) return;
      clearInterval(poll);
      kill();
    }, 5);
  });
  assert.equal(killed.signal, 'SIGKILL', killed.err);
  assert.ok(!existsSync(join(out, 'final')), 'the killed run must not have finished');
  const refused = await run(['train', '--config', cfg]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /pass --resume/);
  const resumed = await run(['train', '--config', cfg, '--resume']);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /resumed from .*checkpoint-[12]\.safetensors/);

  const straight = await trainAnimator({
    config: resolveTrainConfig({ ...settings, output: join(root, 'straight'), exportWeights: false }, 'test'), components: tinyComponents(0), log: () => {},
  });
  const final = new Map<string, RawTensor>([
    ...[...readSafetensors(join(out, 'final', 'pose_net.safetensors'))].map(([k, t]) => [`pose_net.${k}`, t] as const),
    ...[...readSafetensors(join(out, 'final', 'unet.safetensors'))].map(([k, t]) => [`unet.${k}`, t] as const),
    ...[...readSafetensors(join(out, 'final', 'face_encoder.safetensors'))].map(([k, t]) => [`face_encoder.${k}`, t] as const),
  ]);
  for (const [k, p] of straight.params) {
    const saved = final.get(k);
    assert.ok(saved, `final weights lack ${k}`);
    assert.deepEqual(new Float32Array(saved.data.buffer.slice(saved.data.byteOffset, saved.data.byteOffset + saved.data.byteLength)), p.detach().contiguous().data<'f32'>(), k);
  }
});

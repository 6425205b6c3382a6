// The process that holds the models: a child of `stable-animator worker`, started once and fed one job at a
// time over IPC. The denoiser runs synchronously for minutes; here it blocks only this process, so the worker
// keeps its BullMQ lock renewed, hears cancellations, and can kill this process to stop a job mid-step.
//
//   worker -> here:  { id, kind, data, dataDir }
//   here -> worker:  { type: 'progress', progress } ... then { type: 'done', result } or { type: 'failed', message }
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Device, DType } from '../torch/index.ts';
import { readImage, writeImage } from '../io/image.ts';
import { writeAnimation } from '../pipeline/outputs.ts';
import { StableAnimator } from '../pipeline/stable-animator.ts';
import type { PoseSequence } from '../pose/keypoints.ts';
import { toAnimateRequest, type JobData, type JobKind } from './job-options.ts';
import { loadShippedMotion } from './motions.ts';
import { liveFrameDataUrl, posePreview } from './preview.ts';

export interface EngineRequest {
  id: string;
  kind: JobKind;
  data: JobData;
  dataDir: string;
}

export interface JobProgress {
  stage: 'loading' | 'poses' | 'denoise' | 'decode' | 'writing';
  step?: number;
  total?: number;
  etaSeconds?: number;
  elapsedSeconds: number;
  /** Denoising: the first frame of the step's clean estimate as a PNG data URL, while decoding it is cheap. */
  frame?: string;
}

export interface JobResult {
  /** Relative to the data folder: the video (animate) or the pose preview PNG (preview). */
  file: string;
  frames: number;
  width: number;
  height: number;
  fps?: number;
  seconds: number;
  alignment: string;
  warnings: string[];
}

export type EngineMessage = { type: 'progress'; progress: JobProgress } | { type: 'done'; result: JobResult } | { type: 'failed'; message: string };

const device = (process.env.STABLE_ANIMATOR_DEVICE ?? 'cpu') as Device;
const dtype = process.env.STABLE_ANIMATOR_DTYPE as DType | undefined;
const animators = new Map<string, StableAnimator>();
const parent = process.ppid;

/** Models loaded once per weights folder (with the face recognizer when HJB asks for it). */
function animatorFor(dir: string, hjb: boolean): StableAnimator {
  const key = `${dir}\n${hjb}`;
  let a = animators.get(key);
  if (!a) animators.set(key, (a = StableAnimator.fromPretrained(dir, { device, dtype, hjb })));
  return a;
}

/** The worker died (kill -9): stop at the next step instead of finishing a job another worker now runs. */
function exitIfOrphaned(): void {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== parent) process.exit(1);
  } catch {
    // no /proc: the IPC 'disconnect' event ends this process once the step returns
  }
}

async function run(req: EngineRequest, send: (m: EngineMessage) => void): Promise<JobResult> {
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const progress = (p: Omit<JobProgress, 'elapsedSeconds'>) => send({ type: 'progress', progress: { ...p, elapsedSeconds: elapsed() } });
  const { data } = req;
  progress({ stage: 'loading' });
  const animator = animatorFor(data.weightsDir, data.options.hjb);
  const reference = await readImage(join(req.dataDir, data.reference), { channels: 3 });
  const request = toAnimateRequest(data.options);
  const size = [request.width ?? animator.weights.size ?? 512, request.height ?? animator.weights.size ?? 512] as [number, number];
  const driving: string | PoseSequence = 'file' in data.driving ? join(req.dataDir, data.driving.file) : await loadShippedMotion(data.driving.motion, size);
  const outDir = join(req.dataDir, 'jobs', req.id);
  await mkdir(outDir, { recursive: true });
  progress({ stage: 'poses' });
  if (req.kind === 'preview') {
    const { poses, width, height, notices } = await animator.drivingPoses(reference, driving, request);
    const file = `jobs/${req.id}/preview.png`;
    await writeImage(join(req.dataDir, file), await posePreview(reference, poses.images));
    return { file, frames: poses.images.length, width, height, seconds: elapsed(), alignment: poses.alignment, warnings: notices };
  }
  let frame: string | undefined;
  const result = await animator.animate(reference, driving, {
    ...request,
    onPreviewFrame: (f) => { frame = liveFrameDataUrl(f); },
    onProgress: (p) => {
      exitIfOrphaned();
      progress({ stage: p.phase, step: p.step, total: p.total, etaSeconds: p.etaSeconds, ...(frame ? { frame } : {}) });
      frame = undefined;
    },
  });
  progress({ stage: 'writing' });
  const file = `jobs/${req.id}/out.mp4`;
  await writeAnimation(join(req.dataDir, file), result, { audio: data.options.audio });
  const { width, height } = result.frames[0]!;
  return { file, frames: result.frames.length, width, height, fps: result.fps, seconds: elapsed(), alignment: result.driving.alignment, warnings: result.warnings };
}

process.on('disconnect', () => process.exit(0));
process.on('message', (req: EngineRequest) => {
  const send = (m: EngineMessage) => process.send?.(m);
  run(req, send).then(
    (result) => send({ type: 'done', result }),
    (e: Error) => send({ type: 'failed', message: e.message }),
  );
});

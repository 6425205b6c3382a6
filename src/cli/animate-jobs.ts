// `stable-animator animate --jobs jobs.json --weights DIR`: many (reference, driving, options, output) cases with
// the models loaded once, through the library (pipeline/stable-animator.ts). A failing case is reported and the
// rest go on; a case whose output exists is skipped (outputs are written whole, so it finished); a summary table
// at the end. The file (paths relative to it):
//   { "defaults": { "steps": 25, "fit": "crop" },
//     "jobs": [ { "ref": "a.png", "driving": "dance.mp4", "output": "out/a.mp4", "options": { "seed": 1 } }, ... ] }
// or just the array of jobs. The command line's --steps, --fps etc. are defaults under the file's.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DType } from '../torch/index.ts';
import { checkOutputPath } from '../io/atomic.ts';
import { ALIGN_METHODS, isAlignMethod } from '../align/align-frames.ts';
import { FIT_MODES, isFitMode } from '../pipeline/framing.ts';
import { outputKind, writeAnimation } from '../pipeline/outputs.ts';
import { StableAnimator, type AnimateRequest } from '../pipeline/stable-animator.ts';
import type { PlacementOptions } from '../pipeline/placement.ts';
import { describeWeightsRoot } from '../models/weights-layout.ts';
import { formatDuration, formatTable } from '../util/format.ts';
import { progressBar } from './progress-bar.ts';

/** A job's options, by name: what it means in AnimateRequest. */
const JOB_OPTIONS = {
  width: 'posint', height: 'posint', fps: 'positive', stride: 'posint', steps: 'posint', seed: 'int', guidance: 'number',
  maxFrames: 'posint', fit: 'fit', align: 'align', audio: 'boolean',
} as const;
type JobOptionName = keyof typeof JOB_OPTIONS;
export type JobOptions = { [K in JobOptionName]?: K extends 'fit' | 'align' ? string : K extends 'audio' ? boolean : number };

export interface Job {
  ref: string;
  driving: string;
  output: string;
  options: JobOptions;
}

export interface JobResult {
  job: Job;
  status: 'done' | 'skipped' | 'failed';
  frames?: number;
  fps?: number;
  seconds?: number;
  error?: string;
}

/** Reads and checks a jobs file (before any model loads); paths become absolute, relative to the file. */
export function readJobs(path: string, cliDefaults: JobOptions = {}): Job[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`--jobs ${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`--jobs ${path}: not valid JSON: ${(e as Error).message}`);
  }
  const top = Array.isArray(data) ? { jobs: data } : (data as { jobs?: unknown; defaults?: unknown });
  if (!top || typeof top !== 'object' || !Array.isArray(top.jobs)) throw new Error(`--jobs ${path}: expected an array of jobs or { "defaults": {...}, "jobs": [...] }`);
  const defaults = { ...checkOptions(cliDefaults, 'the command line'), ...checkOptions(top.defaults ?? {}, `--jobs ${path}: "defaults"`) };
  const base = dirname(path);
  return top.jobs.map((j: unknown, i: number) => {
    const where = `--jobs ${path}: job ${i + 1}`;
    if (!j || typeof j !== 'object') throw new Error(`${where}: expected an object with "ref", "driving" and "output"`);
    const o = j as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !['ref', 'driving', 'output', 'options'].includes(k));
    if (unknown.length) throw new Error(`${where}: unknown key(s) ${unknown.join(', ')}; expected ref, driving, output, options`);
    for (const k of ['ref', 'driving', 'output']) if (typeof o[k] !== 'string' || !o[k]) throw new Error(`${where}: "${k}" must be a path, got ${JSON.stringify(o[k])}`);
    outputKind(o.output as string);
    return {
      ref: resolve(base, o.ref as string), driving: resolve(base, o.driving as string), output: resolve(base, o.output as string),
      options: { ...defaults, ...checkOptions(o.options ?? {}, `${where}: "options"`) },
    };
  });
}

function checkOptions(value: unknown, where: string): JobOptions {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected an object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const kind = JOB_OPTIONS[k as JobOptionName];
    if (!kind) throw new Error(`${where}: unknown option "${k}"; expected one of ${Object.keys(JOB_OPTIONS).join(', ')}`);
    const ok = kind === 'fit' ? typeof v === 'string' && isFitMode(v)
      : kind === 'align' ? typeof v === 'string' && isAlignMethod(v)
        : kind === 'boolean' ? typeof v === 'boolean'
          : typeof v === 'number' && Number.isFinite(v) && (kind === 'number' || (kind === 'positive' ? v > 0 : Number.isInteger(v) && (kind === 'int' || v > 0)));
    if (!ok) {
      const expected = kind === 'fit' ? FIT_MODES.join('|') : kind === 'align' ? ALIGN_METHODS.join('|') : kind === 'posint' ? 'a positive integer' : kind === 'positive' ? 'a positive number' : `a ${kind === 'int' ? 'integer' : kind}`;
      throw new Error(`${where}: "${k}" must be ${expected}, got ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  return out as JobOptions;
}

/** A job's options as the library's request. */
export function jobRequest(o: JobOptions): AnimateRequest {
  return {
    ...(o.width !== undefined ? { width: o.width } : {}), ...(o.height !== undefined ? { height: o.height } : {}),
    ...(o.fps !== undefined ? { fps: o.fps } : {}), ...(o.stride !== undefined ? { stride: o.stride } : {}),
    ...(o.steps !== undefined ? { numInferenceSteps: o.steps } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.guidance !== undefined ? { minGuidanceScale: o.guidance, maxGuidanceScale: o.guidance } : {}),
    ...(o.maxFrames !== undefined ? { maxFrames: o.maxFrames } : {}),
    ...(o.fit !== undefined ? { fit: o.fit as AnimateRequest['fit'] } : {}), ...(o.align !== undefined ? { align: o.align as AnimateRequest['align'] } : {}),
    ...(o.audio !== undefined ? { audio: o.audio } : {}),
  };
}

/** Runs every job with one loaded animator; returns the results in order. */
export async function runJobs(animator: StableAnimator, jobs: readonly Job[], log: (m: string) => void): Promise<JobResult[]> {
  const results: JobResult[] = [];
  for (const [i, job] of jobs.entries()) {
    const tag = `job ${i + 1}/${jobs.length}`;
    if (existsSync(job.output)) {
      log(`${tag}: ${job.output} exists: skipped`);
      results.push({ job, status: 'skipped' });
      continue;
    }
    log(`${tag}: ${job.ref} + ${job.driving} -> ${job.output}`);
    const t0 = performance.now();
    try {
      checkOutputPath(job.output, outputKind(job.output) === 'png' ? 'folder' : 'file');
      let poses: ReturnType<typeof progressBar> | undefined;
      let bar: ReturnType<typeof progressBar> | undefined;
      const result = await animator.animate(job.ref, job.driving, {
        ...jobRequest(job.options),
        onDrivingProgress: (p) => (poses ??= progressBar('poses  ')).update(p.frames, p.total ?? p.frames),
        onProgress: (p) => {
          if (p.phase !== 'denoise') return;
          if (!bar) poses?.finish();
          bar ??= progressBar('denoise');
          bar.update(p.step, p.total);
        },
      });
      bar?.finish();
      for (const w of result.warnings) log(`${tag}: ${w}`);
      const s = result.driving.sampling;
      log(`${tag}: ${s.indices.length} of ${s.sourceFrames} driving frame(s), ${s.description}`);
      await writeAnimation(job.output, result, { audio: job.options.audio });
      results.push({ job, status: 'done', frames: result.frames.length, fps: result.fps, seconds: (performance.now() - t0) / 1000 });
    } catch (e) {
      const error = (e as Error).message;
      log(`${tag} failed: ${error}`);
      results.push({ job, status: 'failed', error, seconds: (performance.now() - t0) / 1000 });
    }
  }
  return results;
}

export function formatJobResults(results: readonly JobResult[]): string {
  const rows = results.map((r, i) => [
    String(i + 1), r.status, r.frames !== undefined ? String(r.frames) : '-', r.fps !== undefined ? String(Math.round(r.fps * 1000) / 1000) : '-',
    r.seconds !== undefined ? formatDuration(r.seconds) : '-', r.job.output, r.error ? r.error.split('\n')[0]! : '',
  ]);
  const count = (s: JobResult['status']) => results.filter((r) => r.status === s).length;
  return `${formatTable(['job', 'status', 'frames', 'fps', 'time', 'output', 'error'], rows)}\n` +
    `${count('done')} done, ${count('skipped')} skipped (output exists), ${count('failed')} failed`;
}

/** The CLI entry: the jobs of `file` on the weights loaded once; exit code 1 when a job failed. */
export async function runAnimateJobs(file: string, o: PlacementOptions & { weights?: string; dtype: DType; defaults: JobOptions }, log: (m: string) => void): Promise<number> {
  const { weights, dtype, defaults, ...placement } = o;
  const jobs = readJobs(file, defaults);
  log(`${jobs.length} job(s) from ${file}; loading ${describeWeightsRoot(weights)}`);
  const animator = StableAnimator.fromPretrained(weights, { ...placement, dtype });
  const results = await runJobs(animator, jobs, log);
  log(formatJobResults(results));
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}

// Jobs as the API shows them: the queue's states in the user's words, and one shape for the list, the status
// route and the events.
import type { Job, JobState } from 'bullmq';
import type { JobProgress, JobResult } from './animation-process.ts';
import type { JobData } from './job-options.ts';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobView {
  id: string;
  kind: string;
  status: JobStatus;
  inputs: JobData['inputs'];
  options: JobData['options'];
  progress?: JobProgress;
  result?: JobResult;
  error?: string;
  attempts: number;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
}

export const CANCELLED = 'cancelled';

export function statusOf(state: JobState | 'unknown', failedReason?: string): JobStatus {
  if (state === 'active') return 'running';
  if (state === 'completed') return 'done';
  if (state === 'failed') return failedReason === CANCELLED ? 'cancelled' : 'failed';
  return 'queued';
}

export async function viewJob(job: Job<JobData, JobResult>): Promise<JobView> {
  // The job's fields were read before its state: a job that completed in between has no result in this
  // snapshot, so it is still shown running (every job returns a result; the next read has both).
  const read = await job.getState();
  const state = read === 'completed' && !job.returnvalue ? 'active' : read;
  const progress = job.progress && typeof job.progress === 'object' ? (job.progress as unknown as JobProgress) : undefined;
  return {
    id: job.id!, kind: job.name, status: statusOf(state, job.failedReason), inputs: job.data.inputs, options: job.data.options,
    ...(progress ? { progress } : {}), ...(job.returnvalue ? { result: job.returnvalue } : {}),
    ...(state === 'failed' && job.failedReason !== CANCELLED ? { error: job.failedReason } : {}),
    attempts: job.attemptsStarted, createdAt: job.timestamp, startedAt: job.processedOn, finishedAt: job.finishedOn,
  };
}

/** JSON schema of a JobView (for the OpenAPI document). */
export const JOB_VIEW_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' }, kind: { type: 'string', enum: ['animate', 'preview'] },
    status: { type: 'string', enum: ['queued', 'running', 'done', 'failed', 'cancelled'] },
    inputs: { type: 'object', additionalProperties: true }, options: { type: 'object', additionalProperties: true },
    progress: { type: 'object', additionalProperties: true }, result: { type: 'object', additionalProperties: true },
    error: { type: 'string' }, attempts: { type: 'integer' },
    createdAt: { type: 'number' }, startedAt: { type: 'number' }, finishedAt: { type: 'number' },
  },
} as const;

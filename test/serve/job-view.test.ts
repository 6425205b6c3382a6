// A job's view from one read of its fields and a later read of its state: a job that completed in between has no
// result in the snapshot, and is shown running, never "done" without its result (a race seen under load).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job } from 'bullmq';
import { viewJob } from '../../src/serve/jobs.ts';
import type { JobData } from '../../src/serve/job-options.ts';
import type { JobResult } from '../../src/serve/animation-process.ts';

function job(state: string, returnvalue: unknown): Job<JobData, JobResult> {
  return {
    id: '7', name: 'animate', data: { inputs: {}, options: {} }, progress: { stage: 'decode' }, returnvalue, failedReason: undefined,
    attemptsStarted: 1, timestamp: 1, processedOn: 2, finishedOn: returnvalue ? 3 : undefined, getState: async () => state,
  } as unknown as Job<JobData, JobResult>;
}

test('a job read just before it completed shows running; with its result, done', async () => {
  const racing = await viewJob(job('completed', null));
  assert.equal(racing.status, 'running');
  assert.equal(racing.result, undefined);
  const done = await viewJob(job('completed', { file: 'results/7.mp4', seconds: 1, warnings: [] }));
  assert.equal(done.status, 'done');
  assert.equal(done.result?.file, 'results/7.mp4');
  assert.equal((await viewJob(job('active', null))).status, 'running');
  assert.equal((await viewJob(job('waiting', null))).status, 'queued');
});

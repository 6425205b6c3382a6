// Retention: the sweep deletes job folders of jobs gone from the queue and uploads no remaining job reads, once
// older than keepDays, and nothing else; finished jobs get BullMQ's removal ages.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Queue } from 'bullmq';
import { QUEUE_NAME, redisConnection, startRedis } from '../../src/serve/redis.ts';
import { jobRetention, sweepData } from '../../src/serve/retention.ts';
import type { JobData } from '../../src/serve/job-options.ts';

const dir = mkdtempSync(join(tmpdir(), 'serve-retention-'));
const redis = await startRedis(join(dir, 'redis'));
const queue = new Queue<JobData>(QUEUE_NAME, { connection: redisConnection(redis.url) });
after(async () => {
  await queue.close();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('old files no job needs are swept; what a job in the queue reads, and anything recent, stays', async () => {
  const data = join(dir, 'data');
  const now = Date.now();
  const old = (now - 10 * 86_400_000) / 1000;
  const make = (rel: string, aged: boolean, folder = false) => {
    const path = join(data, rel);
    if (folder) mkdirSync(path, { recursive: true });
    else {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, 'x');
    }
    if (aged) utimesSync(path, old, old);
  };
  // a job still in the queue (no worker runs here), reading upload a1 (reference) and v1 (driving)
  const queued = await queue.add('animate', {
    reference: 'uploads/a1.png', driving: { file: 'uploads/v1.mp4' }, weightsDir: 'weights/mini',
    options: { frames: 2, steps: 1, guidance: 1, seed: 0, align: 'none', hjb: false, fit: 'crop', audio: true, weights: 'mini' },
    inputs: { reference: 'photo.png', driving: 'dance.mp4' },
  }, { jobId: 'queued-job' });
  for (const f of ['uploads/a1.png', 'uploads/a1.info.json', 'uploads/v1.mp4', 'uploads/old.png', 'uploads/old.info.json']) make(f, true);
  make('uploads/new.png', false);
  make(`jobs/${queued.id}`, true, true);
  make('jobs/gone-old', true, true);
  make('jobs/gone-new', false, true);

  const report = await sweepData(data, queue, 7, now);
  assert.deepEqual(report, { jobFolders: 1, uploads: 2 });
  const present = (rel: string) => existsSync(join(data, rel));
  assert.deepEqual(['uploads/old.png', 'uploads/old.info.json', 'jobs/gone-old'].map(present), [false, false, false]);
  assert.ok(['uploads/a1.png', 'uploads/a1.info.json', 'uploads/v1.mp4', 'uploads/new.png', `jobs/${queued.id}`, 'jobs/gone-new'].every(present));
  // a longer retention keeps everything
  make('uploads/old.png', true);
  assert.deepEqual(await sweepData(data, queue, 30, now), { jobFolders: 0, uploads: 0 });
  // queued jobs are removed from Redis 7 days after they finish; 0 keeps them
  assert.deepEqual(jobRetention(7), { removeOnComplete: { age: 604800 }, removeOnFail: { age: 604800 } });
  assert.deepEqual(jobRetention(0), {});
});

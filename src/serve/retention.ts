// Retention: a service that runs for months must not keep every job and upload forever. Finished jobs leave Redis
// after `keepDays` (BullMQ's removeOnComplete / removeOnFail ages, set when they are queued), and a sweep (at start,
// then hourly) deletes what no job in the queue names any more and is older than that: job folders
// (<data>/jobs/<id>) whose job is gone, and uploads (<data>/uploads/<id>.*) that no remaining job reads.
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import type { JobData } from './job-options.ts';

const DAY_MS = 86_400_000;

/** The age options of a queued job: removed from Redis `keepDays` after it finished (0: kept). */
export function jobRetention(keepDays: number): { removeOnComplete?: { age: number }; removeOnFail?: { age: number } } {
  if (!(keepDays > 0)) return {};
  const age = Math.round(keepDays * 86_400);
  return { removeOnComplete: { age }, removeOnFail: { age } };
}

export interface SweepReport {
  jobFolders: number;
  uploads: number;
}

const uploadIdOf = (file: string) => file.slice(file.lastIndexOf('/') + 1).split('.')[0]!;

async function olderEntries(dir: string, before: number): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const old: string[] = [];
  for (const name of names) {
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s && s.mtimeMs < before) old.push(name);
  }
  return old;
}

/** Deletes job folders of jobs gone from the queue and uploads no job in it reads, both last changed over `keepDays` ago. */
export async function sweepData(dataDir: string, queue: Queue<JobData>, keepDays: number, now = Date.now()): Promise<SweepReport> {
  const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children', 'completed', 'failed']);
  const ids = new Set(jobs.map((j) => j.id));
  const read = new Set(jobs.flatMap((j) => [j.data.reference, 'file' in j.data.driving ? j.data.driving.file : undefined])
    .filter((f): f is string => f !== undefined).map(uploadIdOf));
  const before = now - keepDays * DAY_MS;
  const report: SweepReport = { jobFolders: 0, uploads: 0 };
  for (const id of await olderEntries(join(dataDir, 'jobs'), before)) {
    if (ids.has(id)) continue;
    await rm(join(dataDir, 'jobs', id), { recursive: true, force: true });
    report.jobFolders++;
  }
  for (const name of await olderEntries(join(dataDir, 'uploads'), before)) {
    if (read.has(uploadIdOf(name))) continue;
    await rm(join(dataDir, 'uploads', name), { force: true });
    report.uploads++;
  }
  return report;
}

// `stable-animator worker`: takes jobs from the BullMQ queue one at a time and runs them in its animation process
// (animation-process.ts, the models loaded once). Progress goes to the queue (job.updateProgress), results to the
// shared data folder. A worker that dies leaves its job locked until the lock expires; BullMQ's stalled-job check
// (in every worker) then puts it back in the queue for another. Cancellation arrives over Redis pub/sub.
import { fork, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { EngineMessage, EngineRequest, JobProgress, JobResult } from './animation-process.ts';
import type { JobData, JobKind } from './job-options.ts';
import { CANCEL_CHANNEL, QUEUE_NAME, redisConnection } from './redis.ts';
import { fetchInputs, sendResult, type ApiEndpoint } from './remote-files.ts';

export interface WorkerOptions {
  redis: string;
  dataDir: string;
  device?: string;
  dtype?: string;
  /** BullMQ lock: how long a dead worker's job waits before another takes it (default 30 s). */
  lockSeconds?: number;
  log?: (message: string) => void;
  /** The API of a server whose data folder this machine does not share: inputs and results go through it. */
  api?: ApiEndpoint;
}

/** Key set (for a day) when a job is cancelled, for a worker that picks the job up after the broadcast. */
export const cancelKey = (id: string) => `${QUEUE_NAME}:cancelled:${id}`;

/** The animation process: started on the first job, restarted after a kill (cancel) or a crash. */
class Engine {
  private child?: ChildProcess;
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  run(req: EngineRequest, onProgress: (p: JobProgress) => void, signal?: AbortSignal): Promise<JobResult> {
    const child = (this.child ??= fork(new URL('./animation-process.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', import.meta.resolve('tsx')], env: this.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }));
    return new Promise((resolve, reject) => {
      const done = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
      };
      const onMessage = (m: EngineMessage) => {
        if (m.type === 'progress') return onProgress(m.progress);
        done();
        if (m.type === 'done') resolve(m.result);
        else reject(new UnrecoverableError(m.message));
      };
      const onExit = (code: number | null, sig: string | null) => {
        done();
        if (this.child === child) this.child = undefined;
        reject(signal?.aborted ? new UnrecoverableError('cancelled') : new Error(`the animation process exited (${sig ?? `code ${code}`})`));
      };
      const onAbort = () => child.kill('SIGKILL');
      child.on('message', onMessage);
      child.once('exit', onExit);
      signal?.addEventListener('abort', onAbort);
      child.send(req);
    });
  }

  stop(): void {
    this.child?.kill('SIGKILL');
    this.child = undefined;
  }
}

export interface RunningWorker {
  worker: Worker;
  close(): Promise<void>;
}

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const log = o.log ?? ((m: string) => console.error(m));
  const lockDuration = (o.lockSeconds ?? 30) * 1000;
  const engine = new Engine({
    ...process.env,
    ...(o.device ? { STABLE_ANIMATOR_DEVICE: o.device } : {}),
    ...(o.dtype ? { STABLE_ANIMATOR_DTYPE: o.dtype } : {}),
  });
  const connection = redisConnection(o.redis);
  const worker = new Worker<JobData, JobResult>(QUEUE_NAME, async (job: Job<JobData, JobResult>, _token, signal) => {
    const client = await worker.client;
    if (await client.runCommand('exists', [cancelKey(job.id!)])) throw new UnrecoverableError('cancelled');
    const started = `started${job.attemptsStarted > 1 ? ` (attempt ${job.attemptsStarted})` : ''}`;
    log(`job ${job.id} (${job.name}) ${started}`);
    // the job's own log (GET /api/jobs/:id/logs): which worker ran it, its stages, the library's notices
    const jobLog = (m: string) => void job.log(`${new Date().toISOString()} ${m}`).catch(() => undefined);
    jobLog(`${started} on worker ${hostname()}:${process.pid} (${o.device ?? 'cpu'})`);
    if (o.api) await fetchInputs(o.api, job.id!, job.data, o.dataDir);
    let stage = '';
    const result = await engine.run({ id: job.id!, kind: job.name as JobKind, data: job.data, dataDir: o.dataDir }, (p) => {
      if (p.stage !== stage) jobLog((stage = p.stage));
      void job.updateProgress(p as object);
    }, signal);
    if (o.api) await sendResult(o.api, job.id!, result, o.dataDir);
    for (const w of result.warnings) jobLog(`note: ${w}`);
    jobLog(`done in ${result.seconds.toFixed(1)} s`);
    log(`job ${job.id} done in ${result.seconds.toFixed(1)} s`);
    return result;
  }, { connection, concurrency: 1, lockDuration, stalledInterval: lockDuration, maxStalledCount: 2, autorun: false });
  worker.on('failed', (job, err) => log(`job ${job?.id} failed: ${err.message}`));
  worker.on('error', (err) => log(`worker: ${err.message}`));

  const subscriber = (await worker.client).duplicate();
  await subscriber.runCommand('subscribe', [CANCEL_CHANNEL]);
  subscriber.on('message', (_channel: string, id: string) => worker.cancelJob(id, 'cancelled'));
  void worker.run();
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      subscriber.disconnect();
      engine.stop();
      await worker.close(true);
    },
  };
}

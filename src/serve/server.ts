// The HTTP side of `stable-animator serve`: a fastify app with a JSON API (documented as OpenAPI from the route
// schemas: GET /api/openapi.json) and the web page (page/). Uploads and jobs are checked here, before anything
// reaches the queue; the work happens in the workers (worker.ts).
import { createReadStream, createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeAtomically } from '../io/atomic.ts';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import multipart from '@fastify/multipart';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { JobProgress, JobResult } from './animation-process.ts';
import { jobOptionsSchema, type JobData, type JobKind, type JobOptions, type ServeLimits } from './job-options.ts';
import { JOB_VIEW_SCHEMA, viewJob, type JobView } from './jobs.ts';
import { shippedMotions } from './motions.ts';
import { openApiDocument } from './openapi.ts';
import { CANCEL_CHANNEL, QUEUE_NAME, redisConnection } from './redis.ts';
import { findUpload, HttpError, storeUpload } from './uploads.ts';
import { jobRetention, sweepData } from './retention.ts';
import { cancelKey } from './worker.ts';

export interface ServerOptions {
  redis: string;
  dataDir: string;
  /** Weights folders offered, by name (the first is the default). */
  weights: Record<string, string>;
  limits: ServeLimits;
  token?: string;
  log?: boolean;
  /** Finished jobs and the files no job needs are removed after this many days (retention.ts); 0 keeps them. Default 7. */
  keepDays?: number;
}

export interface AnimationServer {
  app: FastifyInstance;
  queue: Queue<JobData, JobResult>;
  close(): Promise<void>;
}

const PAGE_FILES: Record<string, string> = { 'app.js': 'text/javascript', 'style.css': 'text/css' };
const PAGE_DIR = new URL('./page/', import.meta.url).pathname;
const JOB_ID = { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } }, required: ['id'] } as const;
const ERROR = { type: 'object', properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } } } as const;

export async function startServer(o: ServerOptions): Promise<AnimationServer> {
  const connection = redisConnection(o.redis);
  const queue = new Queue<JobData, JobResult>(QUEUE_NAME, { connection });
  const events = new QueueEvents(QUEUE_NAME, { connection });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  const keepDays = o.keepDays ?? 7;
  const sweep = () => sweepData(o.dataDir, queue, keepDays).then(
    (r) => { if (r.jobFolders + r.uploads > 0) app.log.info(`retention: removed ${r.jobFolders} job folder(s) and ${r.uploads} upload file(s) older than ${keepDays} days`); },
    (e: Error) => app.log.error(`retention sweep: ${e.message}`),
  );
  const sweeper = keepDays > 0 ? setInterval(() => void sweep(), 3_600_000).unref() : undefined;
  const listeners = new Map<string, Set<(event: string, data: unknown) => void>>();
  const notify = (id: string, event: string, data: unknown) => listeners.get(id)?.forEach((l) => l(event, data));
  events.on('progress', ({ jobId, data }) => notify(jobId, 'progress', data));
  for (const e of ['active', 'completed', 'failed', 'removed', 'stalled', 'waiting'] as const) events.on(e, ({ jobId }: { jobId: string }) => notify(jobId, e, undefined));

  const app = Fastify({ logger: o.log ?? false, ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true } }, bodyLimit: 64 * 1024 });
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (r) => void routes.push(r));
  await app.register(multipart, { limits: { fileSize: o.limits.uploadBytes, files: 1, fields: 0, parts: 1 } });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err instanceof HttpError ? err.statusCode : err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) app.log.error(err);
    void reply.code(status).send({ statusCode: status, error: err.code ?? 'Error', message: err.message });
  });
  if (o.token) {
    const want = Buffer.from(o.token);
    app.addHook('onRequest', async (req, reply) => {
      if (!req.url.startsWith('/api/')) return; // the page's static files hold no data
      const header = req.headers.authorization;
      const given = header?.startsWith('Bearer ') ? header.slice(7) : (req.query as Record<string, string> | undefined)?.token;
      const buf = Buffer.from(given ?? '');
      if (buf.length !== want.length || !timingSafeEqual(buf, want)) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'Unauthorized', message: 'a bearer token is required (Authorization: Bearer TOKEN, or ?token=TOKEN)' });
      }
    });
  }

  // --- the page
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html').send(await readFile(join(PAGE_DIR, 'index.html'))));
  app.get<{ Params: { file: string } }>('/page/:file', { schema: { hide: true } }, async (req, reply) => {
    const type = PAGE_FILES[req.params.file];
    if (!type) throw new HttpError(404, `no page file ${req.params.file}`);
    return reply.type(type).send(await readFile(join(PAGE_DIR, req.params.file)));
  });

  // --- the API
  const weightNames = Object.keys(o.weights);
  const optionsSchema = jobOptionsSchema(o.limits, weightNames);
  app.get('/api/openapi.json', { schema: { summary: 'this document', hide: true } }, async () => openApiDocument(routes));
  app.get('/api/config', { schema: { summary: 'weights, shipped motions, limits and option defaults the page offers' } }, async () => ({
    weights: weightNames, motions: shippedMotions(), limits: o.limits, options: optionsSchema.properties,
  }));

  app.post('/api/uploads', {
    schema: {
      summary: 'upload a reference photo (PNG, JPEG, WebP), a driving video (MP4, WebM, AVI, GIF) or a keypoint JSON file (multipart/form-data, one file)',
      consumes: ['multipart/form-data'],
      response: { 201: { type: 'object', additionalProperties: true, properties: { id: { type: 'string' }, kind: { type: 'string', enum: ['image', 'video', 'keypoints'] } } }, 400: ERROR, 413: ERROR, 415: ERROR, 422: ERROR },
    },
  }, async (req, reply) => {
    if (!req.isMultipart()) throw new HttpError(415, 'expected multipart/form-data with one file');
    const part = await req.file();
    if (!part) throw new HttpError(400, 'expected one file in the form');
    const { file: _file, ...info } = await storeUpload(o.dataDir, part.file, part.filename, o.limits);
    return reply.code(201).send(info);
  });

  const jobBody = {
    type: 'object', additionalProperties: false, required: ['reference', 'driving'],
    properties: {
      reference: { type: 'string', description: 'upload id of the reference photo' },
      driving: {
        type: 'object', additionalProperties: false, description: 'an uploaded video or keypoint file, or a shipped motion',
        properties: { upload: { type: 'string' }, motion: { type: 'string' } },
      },
      options: { ...optionsSchema, default: {} },
    },
  } as const;
  type JobBody = { reference: string; driving: { upload?: string; motion?: string }; options: JobOptions };
  const submit = (kind: JobKind) => async (req: FastifyRequest<{ Body: JobBody }>, reply: FastifyReply) => {
    const { reference, driving, options } = req.body;
    const ref = await findUpload(o.dataDir, reference, 'reference');
    if (ref.kind !== 'image') throw new HttpError(422, `reference: upload ${ref.id} (${ref.name}) is a ${ref.kind}, expected an image`);
    if ((driving.upload === undefined) === (driving.motion === undefined)) throw new HttpError(400, 'driving: give exactly one of "upload" (an upload id) or "motion" (a shipped motion)');
    let drivingData: JobData['driving'];
    let drivingName: string;
    if (driving.upload !== undefined) {
      const d = await findUpload(o.dataDir, driving.upload, 'driving.upload');
      if (d.kind === 'image') throw new HttpError(422, `driving.upload: upload ${d.id} (${d.name}) is an image, expected a video or a keypoint file`);
      [drivingData, drivingName] = [{ file: d.file }, d.name];
    } else {
      if (!shippedMotions().includes(driving.motion!)) throw new HttpError(400, `driving.motion: unknown motion '${driving.motion}' (shipped: ${shippedMotions().join(', ')})`);
      [drivingData, drivingName] = [{ motion: driving.motion! }, `motion ${driving.motion}`];
    }
    const id = randomUUID();
    const data: JobData = { reference: ref.file, driving: drivingData, options, weightsDir: o.weights[options.weights]!, inputs: { reference: ref.name, driving: drivingName } };
    // previews first: they take seconds and a user waits on them before submitting the run
    const job = await queue.add(kind, data, { jobId: id, attempts: 1, priority: kind === 'preview' ? 1 : 2, ...jobRetention(keepDays) });
    return reply.code(201).send(await viewJob(job));
  };
  const submitSchema = (summary: string) => ({ summary, body: jobBody, response: { 201: JOB_VIEW_SCHEMA, 400: ERROR, 404: ERROR, 422: ERROR } });
  app.post('/api/jobs', { schema: submitSchema('queue an animation') }, submit('animate'));
  app.post('/api/previews', { schema: submitSchema('queue a pose preview: the reference with the aligned driving skeleton on the first frames') }, submit('preview'));

  app.get('/api/jobs', { schema: { summary: 'the jobs, newest first', response: { 200: { type: 'array', items: JOB_VIEW_SCHEMA } } } }, async () => {
    const jobs = await queue.getJobs(['active', 'prioritized', 'waiting', 'delayed', 'completed', 'failed'], 0, 199);
    const views = await Promise.all(jobs.filter((j): j is Job<JobData, JobResult> => !!j).map(viewJob));
    return views.sort((a, b) => b.createdAt - a.createdAt);
  });

  const getJob = async (id: string): Promise<Job<JobData, JobResult>> => {
    const job = await Job.fromId<JobData, JobResult>(queue, id);
    if (!job) throw new HttpError(404, `no job ${id}`);
    return job;
  };
  app.get<{ Params: { id: string } }>('/api/jobs/:id', { schema: { summary: 'a job\'s status, progress and result', params: JOB_ID, response: { 200: JOB_VIEW_SCHEMA, 404: ERROR } } },
    async (req) => viewJob(await getJob(req.params.id)));

  app.get<{ Params: { id: string } }>('/api/jobs/:id/logs', {
    schema: { summary: 'a job\'s log: the worker that ran each attempt, its stages, the library\'s notices', params: JOB_ID, response: { 200: { type: 'object', properties: { logs: { type: 'array', items: { type: 'string' } } } }, 404: ERROR } },
  }, async (req) => {
    await getJob(req.params.id);
    return { logs: (await queue.getJobLogs(req.params.id)).logs };
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id/events', { schema: { summary: 'server-sent events: status (a job view) and progress (stage, step, total, ETA) until the job ends', params: JOB_ID } },
    async (req, reply) => {
      const id = req.params.id;
      await getJob(id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(ping);
        listeners.get(id)?.delete(listener);
        res.end();
      };
      const sendStatus = async (gone = false) => {
        const view: JobView | undefined = gone ? undefined : await viewJob(await getJob(id)).catch(() => undefined);
        if (ended) return;
        if (!view) {
          send('status', { id, status: 'cancelled' });
          return end();
        }
        send('status', view);
        if (view.status !== 'queued' && view.status !== 'running') end();
      };
      const listener = (event: string, data: unknown) => {
        if (event === 'progress') send('progress', data as JobProgress);
        else void sendStatus(event === 'removed');
      };
      let set = listeners.get(id);
      if (!set) listeners.set(id, (set = new Set()));
      set.add(listener);
      const ping = setInterval(() => res.write(': ping\n\n'), 15000);
      req.raw.on('close', end);
      await sendStatus();
    });

  app.get<{ Params: { id: string }; Querystring: { download?: string } }>('/api/jobs/:id/result', {
    schema: { summary: 'the result: the video (animation) or PNG (preview); ?download=1 to save it', params: JOB_ID, querystring: { type: 'object', properties: { download: { type: 'string' }, token: { type: 'string' } } } },
  }, async (req, reply) => {
    const job = await getJob(req.params.id);
    if (!job.returnvalue) throw new HttpError(409, `job ${job.id} has no result yet (status: ${(await viewJob(job)).status})`);
    const path = join(o.dataDir, job.returnvalue.file);
    const size = (await stat(path)).size;
    const type = path.endsWith('.png') ? 'image/png' : 'video/mp4';
    void reply.header('accept-ranges', 'bytes').type(type);
    if (req.query.download !== undefined) void reply.header('content-disposition', `attachment; filename="stable-animator-${job.id}.${type === 'image/png' ? 'png' : 'mp4'}"`);
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && (range[1] || range[2])) {
      const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start > end || start >= size) return reply.code(416).header('content-range', `bytes */${size}`).send();
      return reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`).header('content-length', end - start + 1).send(createReadStream(path, { start, end }));
    }
    return reply.header('content-length', size).send(createReadStream(path));
  });

  // --- for workers that do not share the data folder (worker --api)
  app.get<{ Params: { id: string; which: 'reference' | 'driving' } }>('/api/jobs/:id/inputs/:which', {
    schema: { summary: 'a job\'s uploaded input file (for remote workers)', params: { type: 'object', properties: { ...JOB_ID.properties, which: { type: 'string', enum: ['reference', 'driving'] } }, required: ['id', 'which'] } },
  }, async (req, reply) => {
    const { data } = await getJob(req.params.id);
    const file = req.params.which === 'reference' ? data.reference : 'file' in data.driving ? data.driving.file : undefined;
    if (!file) throw new HttpError(404, `job ${req.params.id} drives a shipped motion: no driving file`);
    return reply.type('application/octet-stream').send(createReadStream(join(o.dataDir, file)));
  });
  app.addContentTypeParser('application/octet-stream', { bodyLimit: 4 * o.limits.uploadBytes }, (_req, payload, done) => done(null, payload));
  app.put<{ Params: { id: string } }>('/api/jobs/:id/result', {
    schema: { summary: 'a remote worker sends the result of the job it runs (application/octet-stream)', params: JOB_ID, response: { 204: { type: 'null' }, 404: ERROR, 409: ERROR } },
  }, async (req, reply) => {
    const job = await getJob(req.params.id);
    if ((await job.getState()) !== 'active') throw new HttpError(409, `job ${job.id} is not running: no result is expected`);
    const file = join(o.dataDir, 'jobs', job.id!, job.name === 'preview' ? 'preview.png' : 'out.mp4');
    await writeAtomically(file, (temp) => pipeline(req.body as Readable, createWriteStream(temp)));
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', { schema: { summary: 'cancel a queued or running job', params: JOB_ID, response: { 200: JOB_VIEW_SCHEMA, 404: ERROR, 409: ERROR } } }, async (req) => {
    const job = await getJob(req.params.id);
    const view = await viewJob(job);
    if (view.status !== 'queued' && view.status !== 'running') throw new HttpError(409, `job ${job.id} is ${view.status}: nothing to cancel`);
    const client = await queue.client;
    await client.runCommand('set', [cancelKey(job.id!), '1', 'EX', 86400]);
    // a queued job is removed; one a worker holds (or has just taken) is stopped by the broadcast
    const removed = view.status === 'queued' && (await job.remove().then(() => true, () => false));
    await client.runCommand('publish', [CANCEL_CHANNEL, job.id]);
    return removed ? { ...view, status: 'cancelled' } : viewJob(job);
  });

  if (keepDays > 0) void sweep();
  return {
    app, queue,
    async close() {
      if (sweeper) clearInterval(sweeper);
      await app.close();
      await events.close();
      await queue.close();
    },
  };
}

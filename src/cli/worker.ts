// `stable-animator worker`: processes animation jobs from a Redis-backed queue (src/serve/worker.ts); run one per
// device, on as many machines as share the Redis and the data folder.
import { parseArgs } from 'node:util';
import { startWorker } from '../serve/worker.ts';
import { parseDevice, parseDtype } from './animate.ts';
import { parseNumber } from './args.ts';
import type { Command } from './main.ts';

const USAGE = `stable-animator worker --redis URL [--data serve-data] [--api URL [--token T]] [--device cpu|cuda:N] [--dtype f32|bf16|f16]
      [--threads N] [--lock-seconds 30]

  --redis         the queue's Redis (what \`serve --redis\` uses, or what \`serve\` prints when it starts its own)
  --data          the data folder shared with the server (uploads and results; on another machine, a network mount)
  --api           on a machine that does not share it: the server's address (inputs are fetched from it into --data,
                  results sent to it); --token if the server has one
  --lock-seconds  how long a job of a worker that died waits before another worker takes it`;

export const worker: Command = {
  summary: 'process animation jobs from the queue of `serve` (one job at a time, models loaded once)',
  usage: USAGE,
  async run(args) {
    const { values } = parseArgs({
      args, options: {
        redis: { type: 'string' }, data: { type: 'string', default: 'serve-data' }, device: { type: 'string' }, dtype: { type: 'string' },
        threads: { type: 'string' }, 'lock-seconds': { type: 'string' }, api: { type: 'string' }, token: { type: 'string' },
      },
    });
    if (!values.redis) throw new Error(`--redis URL is required\n\nusage: ${USAGE}`);
    const device = parseDevice(values.device);
    const dtype = parseDtype(values.dtype, device);
    if (values.threads !== undefined) process.env.STABLE_ANIMATOR_THREADS = String(parseNumber('threads', values.threads, 'posint'));
    const running = await startWorker({
      redis: values.redis, dataDir: values.data!, device, dtype, api: values.api ? { url: values.api.replace(/\/$/, ''), token: values.token } : undefined,
      lockSeconds: values['lock-seconds'] !== undefined ? parseNumber('lock-seconds', values['lock-seconds'], 'posint') : undefined,
    });
    console.error(`worker ${process.pid} on ${device}: waiting for jobs (queue at ${values.redis}, data in ${values.data})`);
    await new Promise<void>((resolve) => {
      // a job cut short here is taken up again by another worker once its lock expires
      const stop = () => void Promise.race([running.close(), new Promise((r) => setTimeout(r, 10000).unref())]).then(() => {
        console.error(`worker ${process.pid}: stopped`);
        resolve();
      });
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      process.once('disconnect', stop);
    });
    process.exit(0); // nothing is left to finish; a connection still closing must not keep the process
  },
};

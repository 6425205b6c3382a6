// Workers on machines that do not share the data folder (`worker --api URL`): a job's input files are fetched from
// the API into the worker's own data folder (same relative paths), and its result is sent back to the API.
import { createReadStream, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomically } from '../io/atomic.ts';
import type { JobResult } from './animation-process.ts';
import type { JobData } from './job-options.ts';

export interface ApiEndpoint {
  url: string;
  token?: string;
}

const auth = (api: ApiEndpoint): Record<string, string> => (api.token ? { authorization: `Bearer ${api.token}` } : {});

async function check(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res;
}

/** Downloads the job's uploaded inputs that this worker does not have yet. */
export async function fetchInputs(api: ApiEndpoint, id: string, data: JobData, dataDir: string): Promise<void> {
  const wanted: ['reference' | 'driving', string][] = [['reference', data.reference]];
  if ('file' in data.driving) wanted.push(['driving', data.driving.file]);
  for (const [which, file] of wanted) {
    const path = join(dataDir, file);
    if (existsSync(path)) continue;
    const res = await check(await fetch(`${api.url}/api/jobs/${id}/inputs/${which}`, { headers: auth(api) }), `fetching the ${which} of job ${id} from ${api.url}`);
    await writeAtomically(path, async (temp) => writeFile(temp, new Uint8Array(await res.arrayBuffer())));
  }
}

/** Sends the result file to the API, which stores it where a shared data folder would have it. */
export async function sendResult(api: ApiEndpoint, id: string, result: JobResult, dataDir: string): Promise<void> {
  await check(await fetch(`${api.url}/api/jobs/${id}/result`, {
    method: 'PUT', headers: { ...auth(api), 'content-type': 'application/octet-stream' },
    body: createReadStream(join(dataDir, result.file)) as unknown as BodyInit, duplex: 'half',
  } as RequestInit), `sending the result of job ${id} to ${api.url}`);
}

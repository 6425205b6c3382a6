// A worker on a machine that does not share the data folder (`worker --api URL`): it fetches the job's uploaded
// inputs from the API and sends the result back; the server then serves it as any other.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { probeVideo } from '../../src/io/video.ts';
import { Harness, PHOTO } from './harness.ts';

const h = new Harness();
after(() => h.stop());

test('worker --api: inputs from the API, the result back to it', async () => {
  await h.start({ token: 'tok' });
  const own = join(h.dir, 'elsewhere');
  h.worker(3, ['--data', own, '--api', h.url, '--token', 'tok']);
  const headers = { authorization: 'Bearer tok' };
  const form = new FormData();
  form.append('file', new Blob([readFileSync(PHOTO)]), 'me.png');
  const photo = (await h.fetch('/api/uploads', { method: 'POST', body: form, headers })).body.id;
  const r = await h.fetch('/api/jobs', {
    method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ reference: photo, driving: { motion: 'ad_dab' }, options: { frames: 2, steps: 1 } }),
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const t0 = Date.now();
  let view;
  do {
    await new Promise((res) => setTimeout(res, 300));
    view = (await h.fetch(`/api/jobs/${r.body.id}`, { headers })).body;
  } while ((view.status === 'queued' || view.status === 'running') && Date.now() - t0 < 120000);
  assert.equal(view.status, 'done', view.error);
  assert.ok(existsSync(join(own, 'uploads', `${photo}.png`)), 'the reference was fetched into the worker\'s folder');
  assert.equal((await probeVideo(join(h.data, view.result.file))).frameCount, 2, 'the result is in the server\'s folder');
  assert.deepEqual(readdirSync(join(h.data, 'jobs', r.body.id)), ['out.mp4']);
  const late = await fetch(`${h.url}/api/jobs/${r.body.id}/result`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: 'x' });
  assert.equal(late.status, 409, 'no result is taken for a job that is not running');
});

// Faults: a worker killed (-9) mid-job, whose job another worker finishes with the result an undisturbed run gives
// (same seed); and `serve` restarted mid-queue (its own Redis, persisted under --data): no job lost, none run
// twice to completion.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Image } from '../../src/io/image.ts';
import { decodeVideo } from '../../src/io/video.ts';
import { freePort } from '../../src/util/free-port.ts';
import { startServeProcess } from '../../src/serve/serve-process.ts';
import { Harness, PHOTO } from './harness.ts';

const harnesses: Harness[] = [];
after(async () => {
  for (const h of harnesses) await h.stop();
});

async function frames(path: string): Promise<Image[]> {
  const out: Image[] = [];
  for await (const f of decodeVideo(path)) out.push(f);
  return out;
}

test('kill -9 a worker mid-job: another worker finishes it, with the undisturbed result', async () => {
  const h = new Harness();
  harnesses.push(h);
  await h.start();
  const first = h.worker(2);
  const photo = (await h.upload(new Blob([readFileSync(PHOTO)]), 'me.png')).body.id;
  const body = { reference: photo, driving: { motion: 'ad_dab' }, options: { frames: 4, steps: 6, seed: 11 } };
  const undisturbed = await h.waitFor((await h.submit(body)).body.id, (v) => v.status === 'done');

  const id = (await h.submit(body)).body.id;
  await h.waitFor(id, (v) => v.progress?.stage === 'denoise' && v.progress.step! >= 1);
  const engine = Number(readFileSync(`/proc/${first.pid}/task/${first.pid}/children`, 'utf8').trim());
  assert.ok(engine > 0, 'the worker runs its animation process');
  process.kill(first.pid!, 'SIGKILL');
  const second = h.worker(2);
  const view = await h.waitFor(id, (v) => v.status === 'done' || v.status === 'failed', 120000);
  assert.equal(view.status, 'done', view.error);
  assert.equal(view.attempts, 2);
  const state = (() => {
    try {
      return readFileSync(`/proc/${engine}/stat`, 'utf8').split(') ')[1]![0];
    } catch {
      return 'gone';
    }
  })();
  assert.ok(state === 'gone' || state === 'Z', `the dead worker's animation process ${engine} exited by itself (state ${state})`);
  assert.match((second as ChildProcess & { log: string }).log, new RegExp(`job ${id} \\(animate\\) started \\(attempt 2\\)`));
  const starts = (await h.fetch(`/api/jobs/${id}/logs`)).body.logs.filter((l: string) => / started/.test(l));
  assert.deepEqual(starts.map((l: string) => / on worker \S+:(\d+) /.exec(l)![1]), [String(first.pid), String(second.pid)]);
  const [a, b] = [await frames(join(h.data, undisturbed.result!.file)), await frames(join(h.data, view.result!.file))];
  assert.equal(b.length, 4);
  for (let i = 0; i < a.length; i++) assert.deepEqual(b[i]!.data, a[i]!.data, `frame ${i}`);
});

const startServe = async (h: Harness, port: number) => {
  const serve = await startServeProcess(['--data', h.data, '--port', String(port), '--workers', '1', '--lock-seconds', '2'], { ...process.env, STABLE_ANIMATOR_THREADS: '1' });
  h.track(serve.child);
  return serve;
};

test('restart serve mid-queue: every job done, none twice', async () => {
  const h = new Harness();
  harnesses.push(h);
  const port = await freePort();
  const run1 = await startServe(h, port);
  h.url = run1.url;
  const photo = (await h.upload(new Blob([readFileSync(PHOTO)]), 'me.png')).body.id;
  const ids: string[] = [];
  for (let k = 0; k < 3; k++) ids.push((await h.submit({ reference: photo, driving: { motion: 'ad_dab' }, options: { frames: 2, steps: 6, seed: k } })).body.id);
  await h.waitFor(ids[0]!, (v) => v.progress?.stage === 'denoise');
  run1.child.kill('SIGTERM');
  await new Promise((r) => run1.child.once('exit', r));

  const run2 = await startServe(h, port);
  for (const id of ids) {
    const v = await h.waitFor(id, (x) => x.status === 'done' || x.status === 'failed', 120000);
    assert.equal(v.status, 'done', v.error);
  }
  assert.equal((await h.fetch(`/api/jobs/${ids[0]}`)).body.attempts, 2, 'the job cut short by the restart ran again');
  const log = run1.log() + run2.log();
  for (const id of ids) assert.equal(log.split(`job ${id} done`).length - 1, 1, `job ${id} completed once:\n${log}`);
  assert.equal((await h.fetch('/api/jobs')).body.length, 3);
  run2.child.kill('SIGTERM');
  await new Promise((r) => run2.child.once('exit', r));
});

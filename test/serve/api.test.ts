// The serve API against a real Redis and a real worker on the shipped miniature (toy sizes): uploads checked by
// content, submit, progress events in order, the result, cancel, and clear 4xx errors that leave nothing behind.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { encodeVideo, probeVideo } from '../../src/io/video.ts';
import { serializeKeypointJson } from '../../src/pose/keypoint-json.ts';
import { loadShippedMotion } from '../../src/serve/motions.ts';
import { Harness, PHOTO } from './harness.ts';

const h = new Harness();
let photo = '';
let keypointsId = '';
before(async () => {
  await h.start();
  h.worker();
  photo = (await h.upload(new Blob([readFileSync(PHOTO)]), 'me.png')).body.id;
});
after(() => h.stop());

const uploads = () => readdirSync(join(h.data, 'uploads')).sort();
const jobCount = async () => Object.values(await h.server.queue.getJobCounts()).reduce((a, b) => a + b, 0);

test('uploads are recognised by content, whatever their name, and stored under generated names', async () => {
  const asText = await h.upload(new Blob([readFileSync(PHOTO)]), 'notes.txt');
  assert.equal(asText.status, 201);
  assert.equal(asText.body.kind, 'image');
  assert.deepEqual([asText.body.width, asText.body.height], [256, 256]);
  const seq = await loadShippedMotion('ad_dab', [128, 128]);
  // half a second of the 30 fps motion: 3 frames at the miniature's 5 fps
  const keypoints = await h.upload(new Blob([serializeKeypointJson({ ...seq, frames: seq.frames.slice(0, 15) })]), '../../etc/passwd');
  assert.equal(keypoints.status, 201);
  assert.deepEqual([keypoints.body.kind, keypoints.body.frames, keypoints.body.name], ['keypoints', 15, 'passwd']);
  keypointsId = keypoints.body.id;
  const clip = join(h.dir, 'clip.mp4');
  await encodeVideo(clip, [0, 1, 2].map((k) => ({ width: 64, height: 64, channels: 3 as const, data: new Uint8Array(64 * 64 * 3).fill(40 * k) })), { fps: 8 });
  const video = await h.upload(new Blob([readFileSync(clip)]), 'clip.bin');
  assert.deepEqual([video.status, video.body.kind, video.body.frames, video.body.width], [201, 'video', 3, 64]);
  assert.ok(uploads().every((f) => /^[0-9a-f-]{36}\.(png|json|mp4|info\.json)$/.test(f)), uploads().join(' '));
});

test('wrong type, too big, too many frames, undecodable: a clear 4xx and nothing left behind', async () => {
  const before = uploads();
  const cases: [Blob, string, number, RegExp][] = [
    [new Blob(['hello, this is text']), 'photo.png', 415, /photo\.png: not an image .* judging by its content/],
    [new Blob([new Uint8Array(2.1e6).fill(7)]), 'big.mp4', 413, /big\.mp4: larger than the upload limit of 2\.0 MB/],
    [new Blob([Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5])]), 'broken.png', 422, /broken\.png/],
    [new Blob(['{"format": "something-else"}']), 'poses.json', 422, /poses\.json: unknown pose format/],
  ];
  const seq = await loadShippedMotion('ad_dab', [128, 128]);
  cases.push([new Blob([serializeKeypointJson({ ...seq, frames: seq.frames.slice(0, 17) })]), 'long.json', 413, /long\.json: 17 frames, above the limit of 16/]);
  for (const [blob, name, status, message] of cases) {
    const r = await h.upload(blob, name);
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.message, message);
    assert.doesNotMatch(r.body.message, new RegExp(h.data), 'no server path in the message');
  }
  assert.deepEqual(uploads(), before);
});

test('bad job requests: 4xx naming the field, and no job queued', async () => {
  const count = await jobCount();
  const bad: [object, number, RegExp][] = [
    [{ reference: photo, driving: { motion: 'ad_dab' }, options: { steps: 0 } }, 400, /options\/steps must be >= 1/],
    [{ reference: photo, driving: { motion: 'ad_dab' }, options: { width: 100 } }, 400, /options\/width must be multiple of 64/],
    [{ reference: photo, driving: { motion: 'ad_dab' }, options: { colour: 'red' } }, 400, /options must NOT have additional properties/],
    [{ reference: photo, driving: { motion: 'ad_dab' }, options: { align: 'magic' } }, 400, /options\/align must be equal to one of the allowed values/],
    [{ reference: photo, driving: { motion: 'ad_dab' }, options: { weights: '/etc' } }, 400, /options\/weights must be equal to one of the allowed values/],
    [{ reference: photo, driving: { motion: '../../etc/passwd' } }, 400, /driving\.motion: unknown motion/],
    [{ reference: photo, driving: {} }, 400, /exactly one of "upload"/],
    [{ reference: '../x', driving: { motion: 'ad_dab' } }, 400, /reference: expected an upload id/],
    [{ reference: '00000000-0000-4000-8000-000000000000', driving: { motion: 'ad_dab' } }, 404, /reference: no upload/],
    [{ reference: photo, driving: { upload: photo } }, 422, /driving\.upload: .* is an image, expected a video or a keypoint file/],
  ];
  for (const [body, status, message] of bad) {
    const r = await h.submit(body);
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.match(r.body.message, message);
  }
  assert.equal(await jobCount(), count);
  assert.equal((await h.fetch('/api/jobs/00000000-0000-4000-8000-000000000000')).status, 404);
});

test('submit: progress events in order, then the result video', async () => {
  const r = await h.submit({ reference: photo, driving: { motion: 'ad_dab' }, options: { frames: 3, steps: 2, seed: 5 } });
  assert.equal(r.status, 201);
  // a warm worker may take the job before the answer is written
  assert.ok(['queued', 'running'].includes(r.body.status), r.body.status);
  const events = await h.events(r.body.id);
  const statuses = events.filter((e) => e.event === 'status').map((e) => e.data.status);
  assert.deepEqual(statuses.filter((s, i) => s !== statuses[i - 1]).slice(-2), ['running', 'done'], statuses.join(' '));
  const stages = events.filter((e) => e.event === 'progress').map((e) => e.data.stage + (e.data.step ? e.data.step : ''));
  // a subscription made after a warm worker started may miss the first stages, never reorder them
  const all = ['loading', 'poses', 'denoise1', 'denoise2', 'decode1', 'writing'];
  assert.ok(stages.length >= 4, stages.join(' '));
  assert.deepEqual(stages, all.slice(all.length - stages.length));
  // the live frame: step 1's clean estimate of frame 1, a 128x128 PNG (a step of the miniature dwarfs its decode)
  const live = events.find((e) => e.event === 'progress' && e.data.stage === 'denoise')!.data.frame as string;
  assert.match(live, /^data:image\/png;base64,/);
  const png = Buffer.from(live.slice(live.indexOf(',') + 1), 'base64');
  assert.deepEqual([png.toString('latin1', 1, 4), png.readUInt32BE(16), png.readUInt32BE(20)], ['PNG', 128, 128]);
  const elapsed = events.filter((e) => e.event === 'progress').map((e) => e.data.elapsedSeconds);
  assert.deepEqual(elapsed, [...elapsed].sort((a, b) => a - b), 'elapsed time only grows');
  const done = events.at(-1)!.data;
  assert.deepEqual([done.result.frames, done.result.width, done.result.height, done.result.alignment], [3, 128, 128, 'learned']);
  assert.equal(done.result.fps, 5, 'the miniature\'s training rate (miniature.json) by default');
  const video = await fetch(`${h.url}/api/jobs/${r.body.id}/result`);
  assert.equal(video.headers.get('content-type'), 'video/mp4');
  const info = await probeVideo(join(h.data, done.result.file));
  assert.equal(info.frameCount, 3);
  assert.equal(Number(video.headers.get('content-length')), readFileSync(join(h.data, done.result.file)).length);
  const part = await fetch(`${h.url}/api/jobs/${r.body.id}/result`, { headers: { range: 'bytes=0-99' } });
  assert.equal(part.status, 206);
  assert.equal((await part.arrayBuffer()).byteLength, 100);
  const logs: string[] = (await h.fetch(`/api/jobs/${r.body.id}/logs`)).body.logs;
  assert.deepEqual(logs.map((l) => l.replace(/^\S+ /, '').replace(/ on worker .*| in .*/, '')), ['started', 'loading', 'poses', 'denoise', 'decode', 'writing', 'done']);
  const list = (await h.fetch('/api/jobs')).body;
  assert.ok(list.some((j: { id: string; status: string }) => j.id === r.body.id && j.status === 'done'));
});

test('pose preview: a PNG of the reference with the aligned skeleton on the first frames (uploaded keypoints)', async () => {
  const r = await h.submit({ reference: photo, driving: { upload: keypointsId }, options: { frames: 3 } }, 'previews');
  const view = await h.waitFor(r.body.id, (v) => v.status !== 'queued' && v.status !== 'running');
  assert.equal(view.status, 'done', view.error);
  assert.deepEqual([view.result!.frames, view.result!.alignment, view.inputs.driving], [3, 'learned', 'passwd']);
  const png = await fetch(`${h.url}/api/jobs/${r.body.id}/result`);
  assert.equal(png.headers.get('content-type'), 'image/png');
  assert.deepEqual([...new Uint8Array(await png.arrayBuffer()).subarray(1, 4)], [0x50, 0x4e, 0x47]);
  // the timing and framing options reach the library: 15 frames at 30 fps sampled at 10 fps are 5
  const at10 = await h.submit({ reference: photo, driving: { upload: keypointsId }, options: { frames: 10, fps: 10, fit: 'pad' } }, 'previews');
  const view10 = await h.waitFor(at10.body.id, (v) => v.status !== 'queued' && v.status !== 'running');
  assert.equal(view10.status, 'done', view10.error);
  assert.equal(view10.result!.frames, 5);
});

test('cancel: a running job stops and a queued one is removed; both read cancelled', async () => {
  const body = { reference: photo, driving: { motion: 'ad_dab' }, options: { frames: 4, steps: 8 } };
  const running = (await h.submit(body)).body.id;
  const queued = (await h.submit(body)).body.id;
  await h.waitFor(running, (v) => v.progress?.stage === 'denoise');
  const c1 = await h.fetch(`/api/jobs/${queued}/cancel`, { method: 'POST' });
  assert.equal(c1.body.status, 'cancelled');
  assert.equal((await h.fetch(`/api/jobs/${queued}`)).status, 404, 'removed from the queue');
  await h.fetch(`/api/jobs/${running}/cancel`, { method: 'POST' });
  const view = await h.waitFor(running, (v) => v.status !== 'running', 30000);
  assert.equal(view.status, 'cancelled');
  assert.ok(view.progress!.step! < 8, `stopped mid-run at step ${view.progress!.step}`);
  assert.equal((await h.fetch(`/api/jobs/${running}/cancel`, { method: 'POST' })).status, 409);
});

test('OpenAPI from the route schemas; a token guards every API route', async () => {
  const doc = (await h.fetch('/api/openapi.json')).body;
  assert.equal(doc.openapi, '3.0.3');
  assert.deepEqual(Object.keys(doc.paths['/api/jobs']).sort(), ['get', 'post']);
  assert.equal(doc.paths['/api/jobs'].post.requestBody.content['application/json'].schema.properties.options.properties.steps.maximum, 8);
  const guarded = await new Harness().start({ token: 's3cret' });
  try {
    assert.equal((await guarded.fetch('/api/config')).status, 401);
    assert.equal((await guarded.fetch('/api/config', { headers: { authorization: 'Bearer wrong!' } })).status, 401);
    assert.equal((await guarded.fetch('/api/config', { headers: { authorization: 'Bearer s3cret' } })).status, 200);
    assert.equal((await guarded.fetch('/api/config?token=s3cret')).status, 200);
    assert.equal((await guarded.fetch('/')).status, 200, 'the page itself holds no data');
  } finally {
    await guarded.stop();
  }
});

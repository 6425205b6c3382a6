// `weights check` on the full-size released layout (header-only files: nothing is loaded) and its error
// reports; `weights download` against a local imitation of the Hugging Face Hub file API (paged listing,
// LFS redirect to a CDN, Range requests), with interrupted transfers resumed and hashes verified, into a
// Hugging Face cache laid out as huggingface_hub lays it out.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { downloadHubFile, listHubFiles, repoCommit } from '../../src/io/hub-download.ts';
import { repoCacheFolder } from '../../src/io/hf-cache.ts';
import { checkWeightsFolder, compareKeys } from '../../src/models/weights-check.ts';
import { readCheckpointHeader } from '../../src/torch/serialization/index.ts';
import { keyList, SVD_DIR, SVD_REPO } from '../../src/models/weights-layout.ts';
import { readPthHeader } from '../../src/torch/serialization/pth-header.ts';
import { resolveWeightPaths } from '../../src/pipeline/components.ts';
import { selectFiles, weights } from '../../src/cli/weights.ts';
import { writeFullSizeLayout, writeHeaderOnlyPth } from './fake-weights.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sa-weights-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function quiet<T>(fn: () => Promise<T>): Promise<{ result: T; out: string }> {
  const lines: string[] = [];
  const [log, err] = [console.log, console.error];
  console.log = (...a: unknown[]) => lines.push(a.join(' '));
  console.error = (...a: unknown[]) => lines.push(a.join(' '));
  const write = process.stderr.write;
  process.stderr.write = ((s: string) => { lines.push(String(s)); return true; }) as typeof process.stderr.write;
  try {
    return { result: await fn(), out: lines.join('\n') };
  } finally {
    console.log = log;
    console.error = err;
    process.stderr.write = write;
  }
}

test('the .pth header reader gives names, dtypes and shapes without reading storages (zip and legacy)', () => {
  const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'pth_state_dict', 'expected.json'), 'utf8')) as Record<string, { dtype: string; shape: number[] }>;
  const dt: Record<string, string> = { float32: 'f32', float16: 'f16', bfloat16: 'bf16', int64: 'i64', bool: 'bool' };
  for (const file of ['state_dict.pth', 'state_dict_legacy.pth']) {
    const h = readPthHeader(join(import.meta.dirname, '..', 'fixtures', 'pth_state_dict', file));
    assert.deepEqual([...h.keys()], Object.keys(fixture));
    for (const [k, v] of Object.entries(fixture)) assert.deepEqual(h.get(k), { dtype: dt[v.dtype], shape: v.shape }, `${file} ${k}`);
  }
  const bad = join(tmp, 'bad.pth');
  writeFileSync(bad, 'not a checkpoint');
  assert.throws(() => readPthHeader(bad), /bad\.pth: not a PyTorch checkpoint/);
});

test('weights check: the full released layout matches every key list, read from headers only', async () => {
  const root = join(tmp, 'full');
  writeFullSizeLayout(root);
  const t0 = performance.now();
  const results = checkWeightsFolder(root, { hjb: true });
  const ms = performance.now() - t0;
  const byId = Object.fromEntries(results.map((r) => [r.spec.id, r]));
  for (const id of ['pose_net', 'face_encoder', 'unet', 'arcface', 'unet_config', 'image_encoder', 'image_encoder_config', 'vae', 'vae_config', 'scheduler']) {
    assert.equal(byId[id].status, 'ok', `${id}: ${byId[id].messages.join('; ')}`);
    assert.ok(byId[id].needed);
  }
  assert.equal(byId.dwpose_det.status, 'missing');
  assert.equal(byId.dwpose_det.needed, false);
  assert.equal(readCheckpointHeader(byId.unet.path).size, 1460);
  assert.ok(ms < 5000, `${ms} ms`);
  const { result, out } = await quiet(() => weights.run(['check', root, '--hjb']));
  assert.equal(result, 0);
  assert.match(out, /every needed file is present and matches/);
  // a complete folder resolves for the pipeline
  const paths = resolveWeightPaths(root, {}, { hjb: true });
  assert.equal(paths.unet, join(root, 'Animation', 'unet.pth'));
  assert.equal(paths.vaeDir, join(root, SVD_DIR, 'vae'));
});

test('weights check reports missing files, missing/unexpected keys, wrong shapes and dtypes, bad configs', async () => {
  const root = join(tmp, 'broken');
  writeFullSizeLayout(root);
  const keys = keyList('posenet').keys.map(([k, s]) => [k, s] as [string, number[], string?]);
  keys.splice(1, 1); // conv_layers.0.weight missing
  keys.push(['extra.weight', [2]]);
  keys[1] = [keys[1][0], [99]];
  keys[2] = [keys[2][0], keys[2][1], 'i64'];
  writeHeaderOnlyPth(join(root, 'Animation', 'pose_net.pth'), keys);
  unlinkSync(join(root, 'Animation', 'face_encoder.pth'));
  writeFileSync(join(root, SVD_DIR, 'unet', 'config.json'), JSON.stringify({ ...keyList('unet').config, in_channels: 4 }));
  writeFileSync(join(root, SVD_DIR, 'scheduler', 'scheduler_config.json'), '{"frobnicate": 1}');
  const { result, out } = await quiet(() => weights.run(['check', root]));
  assert.equal(result, 1);
  assert.match(out, /INVALID {2}Animation\/pose_net\.pth/);
  assert.match(out, /missing keys \(1\): conv_layers\.0\.weight/);
  assert.match(out, /unexpected keys \(1\): extra\.weight/);
  assert.match(out, /wrong shapes \(1\): conv_layers\.0\.bias \[99\] \(expected \[3\]\)/);
  assert.match(out, /wrong dtypes \(1\): conv_layers\.2\.weight i64 \(expected float32\)/);
  assert.match(out, /MISSING {2}Animation\/face_encoder\.pth/);
  assert.match(out, /in_channels is 4, expected 8/);
  assert.match(out, /unsupported key 'frobnicate'/);
  assert.match(out, /ok +Animation\/glintr100_torch\.pth .*not needed/);
  assert.match(out, /4 needed file\(s\) missing or invalid/);
  // the pipeline refuses the folder, listing what is missing
  unlinkSync(join(root, 'Animation', 'unet.pth'));
  assert.throws(() => resolveWeightPaths(root), /missing weights in .*broken:\n {2}Animation\/face_encoder\.pth \(Face Encoder[^\n]*\n {2}Animation\/unet\.pth/);
  assert.deepEqual(compareKeys(new Map(), 'posenet').length, 1);
});

// ---- a local imitation of the hub ----

interface RepoFile { path: string; data: Uint8Array; lfs: boolean }

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Uint8Array) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

const REPO: RepoFile[] = [
  { path: 'Animation/pose_net.pth', data: Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251), lfs: true },
  { path: 'Animation/face_encoder.pth', data: Uint8Array.from({ length: 50_000 }, (_, i) => (i * 13) % 253), lfs: true },
  { path: `${SVD_DIR}/unet/config.json`, data: new TextEncoder().encode('{"in_channels": 8}\n'), lfs: false },
  { path: `${SVD_DIR}/vae/diffusion_pytorch_model.fp16.safetensors`, data: Uint8Array.from({ length: 70_000 }, (_, i) => i % 256), lfs: true },
  { path: `${SVD_DIR}/vae/diffusion_pytorch_model.safetensors`, data: Uint8Array.from({ length: 90_000 }, (_, i) => i % 200), lfs: true },
  { path: 'README.md', data: new TextEncoder().encode('# StableAnimator\n'), lfs: false },
];

const COMMIT = 'c0ffee'.padEnd(40, '0');

const hub = {
  server: undefined as Server | undefined,
  endpoint: '',
  requests: [] as { url: string; range?: string; auth?: string }[],
  /** Per path: close the connection after this many bytes (once). */
  dropAfter: new Map<string, number>(),
  /** Per path: serve wrong bytes. */
  corrupt: new Set<string>(),
};

function serve(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url!, 'http://x');
  hub.requests.push({ url: url.pathname + url.search, range: req.headers.range, auth: req.headers.authorization });
  const revision = /^\/api\/models\/(.+?)\/revision\/([^/]+)$/.exec(url.pathname);
  if (revision) {
    if (revision[1] !== 'FrancisRing/StableAnimator') { res.writeHead(404).end('{"error":"Repository not found"}'); return; }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: revision[1], sha: COMMIT }));
    return;
  }
  const tree = /^\/api\/models\/(.+?)\/tree\/([^/]+)$/.exec(url.pathname);
  if (tree) {
    if (tree[1] !== 'FrancisRing/StableAnimator') { res.writeHead(404).end('{"error":"Repository not found"}'); return; }
    // two pages, the second behind a cursor
    const page = url.searchParams.get('cursor') === 'p2' ? 1 : 0;
    const entries = REPO.slice(page * 3, page * 3 + 3).map((f) => ({
      type: 'file', path: f.path, size: f.data.length, oid: gitOid(f.data),
      ...(f.lfs ? { lfs: { oid: sha256(f.data), size: f.data.length, pointerSize: 130 } } : {}),
    }));
    const dirs = page === 0 ? [{ type: 'directory', path: 'Animation', oid: 'x', size: 0 }] : [];
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (page === 0) headers.link = `<${hub.endpoint}/api/models/${tree[1]}/tree/${tree[2]}?recursive=true&cursor=p2>; rel="next"`;
    res.writeHead(200, headers).end(JSON.stringify([...dirs, ...entries]));
    return;
  }
  const resolve = /^\/FrancisRing\/StableAnimator\/resolve\/(?:main|[0-9a-f]{40})\/(.+)$/.exec(url.pathname);
  const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
  const path = decodeURIComponent((resolve ?? cdn)?.[1] ?? '');
  const file = REPO.find((f) => f.path === path);
  if (!file) { res.writeHead(404).end('not found'); return; }
  if (resolve && file.lfs) { res.writeHead(302, { location: `/cdn/${encodeURI(path)}` }).end(); return; }
  let data = file.data;
  if (hub.corrupt.has(path)) data = data.map((b) => b ^ 1);
  let start = 0;
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (range) start = Number(range[1]);
  const body = data.subarray(start);
  res.writeHead(range ? 206 : 200, {
    'content-length': String(body.length),
    ...(range ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
  });
  const drop = hub.dropAfter.get(path);
  if (drop !== undefined && drop > start) {
    hub.dropAfter.delete(path);
    res.write(body.subarray(0, drop - start), () => res.destroy());
    return;
  }
  res.end(body);
}

before(async () => {
  hub.server = createServer(serve);
  await new Promise<void>((r) => hub.server!.listen(0, '127.0.0.1', () => r()));
  const addr = hub.server.address() as { port: number };
  hub.endpoint = `http://127.0.0.1:${addr.port}`;
});
after(() => hub.server?.close());

const opts = () => ({ repo: 'FrancisRing/StableAnimator', endpoint: hub.endpoint });

test('hub listing: paged, files only, LFS sha256 and git oids', async () => {
  const files = await listHubFiles(opts());
  assert.deepEqual(files.map((f) => f.path), REPO.map((f) => f.path));
  assert.equal(files[0].sha256, sha256(REPO[0].data));
  assert.equal(files[2].gitOid, gitOid(REPO[2].data));
  assert.equal(files[2].sha256, undefined);
  await assert.rejects(listHubFiles({ ...opts(), repo: 'nobody/nothing' }), /not found \(HTTP 404\)/);
  await assert.rejects(listHubFiles({ ...opts(), endpoint: 'http://127.0.0.1:1' }), /cannot reach/);
  // the layout's choice: the fp16 VAE, not both; what the repo lacks is reported
  const { files: chosen, absent } = selectFiles(files, 'default');
  assert.ok(chosen.some((f) => f.path.endsWith('vae/diffusion_pytorch_model.fp16.safetensors')));
  assert.ok(!chosen.some((f) => f.path.endsWith('vae/diffusion_pytorch_model.safetensors')));
  assert.ok(!chosen.some((f) => f.path === 'README.md'));
  assert.ok(absent.some((a) => a.includes('Animation/unet.pth')));
});

test('download: verified files, a dropped connection resumed with Range, a re-run skips, a bad hash is refused', async () => {
  const root = join(tmp, 'download');
  const files = await listHubFiles(opts());
  const pose = files[0];
  hub.dropAfter.set(pose.path, 123_456);
  hub.requests.length = 0;
  let last = 0;
  const outcome = await downloadHubFile(pose, join(root, pose.path), { ...opts(), token: 'hf_test', onProgress: (p) => { last = p.bytes; } });
  assert.equal(outcome, 'resumed');
  assert.equal(last, pose.size);
  assert.deepEqual(readFileSync(join(root, pose.path)), Buffer.from(REPO[0].data));
  assert.ok(!existsSync(join(root, `${pose.path}.incomplete`)));
  const ranges = hub.requests.filter((r) => r.url.startsWith('/cdn/')).map((r) => r.range);
  // the second request continues from what arrived before the drop
  assert.equal(ranges.length, 2);
  assert.equal(ranges[0], undefined);
  const from = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1]);
  assert.ok(from > 0 && from <= 123_456, `${ranges[1]}`);
  assert.ok(hub.requests.every((r) => r.auth === 'Bearer hf_test' || r.url.startsWith('/cdn/')));
  // an interrupted earlier run: the partial file is continued
  const face = files[1];
  writeFileSync(join(root, 'Animation', 'face_encoder.pth.incomplete'), REPO[1].data.subarray(0, 20_000));
  hub.requests.length = 0;
  assert.equal(await downloadHubFile(face, join(root, face.path), opts()), 'resumed');
  assert.equal(hub.requests.find((r) => r.url.startsWith('/cdn/'))?.range, 'bytes=20000-');
  assert.deepEqual(readFileSync(join(root, face.path)), Buffer.from(REPO[1].data));
  // already there and verified
  assert.equal(await downloadHubFile(face, join(root, face.path), opts()), 'present');
  // a small (non-LFS) file, checked by its git blob id
  assert.equal(await downloadHubFile(files[2], join(root, files[2].path), opts()), 'downloaded');
  // wrong bytes: refused, nothing left in place
  hub.corrupt.add(files[3].path);
  await assert.rejects(downloadHubFile(files[3], join(root, files[3].path), opts()), /sha256 mismatch/);
  assert.ok(!existsSync(join(root, files[3].path)) && !existsSync(join(root, `${files[3].path}.incomplete`)));
  hub.corrupt.clear();
});

/** Runs fn with HF_HUB_CACHE (and only it) naming `cache`. */
async function withCache<T>(cache: string, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  process.env.HF_HUB_CACHE = cache;
  delete process.env.HF_TOKEN;
  process.env.HF_HOME = join(cache, 'home');
  try {
    return await fn();
  } finally {
    for (const k of ['HF_HUB_CACHE', 'HF_TOKEN', 'HF_HOME']) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
  }
}

test('weights download command: into the Hugging Face cache (blobs, snapshot links, ref), linked into a folder', async () => {
  const cache = join(tmp, 'hf-cache');
  const root = join(tmp, 'cmd');
  await withCache(cache, async () => {
    assert.equal(await repoCommit(opts()), COMMIT);
    const { result, out } = await quiet(() => weights.run(['download', '--endpoint', hub.endpoint]));
    assert.equal(result, 0);
    assert.match(out, /not in FrancisRing\/StableAnimator@main: Animation\/unet\.pth/);
    assert.match(out, /Animation\/pose_net\.pth: downloaded, verified/);
    // huggingface_hub's layout: refs/main -> the commit, blobs named by hash, relative snapshot links to them
    const repoDir = repoCacheFolder('FrancisRing/StableAnimator', cache);
    assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), COMMIT);
    const vaeLink = join(repoDir, 'snapshots', COMMIT, SVD_DIR, 'vae', 'diffusion_pytorch_model.fp16.safetensors');
    assert.ok(lstatSync(vaeLink).isSymbolicLink());
    assert.equal(readlinkSync(vaeLink), `../../../../blobs/${sha256(REPO[3].data)}`);
    assert.deepEqual(readFileSync(vaeLink), Buffer.from(REPO[3].data));
    const config = join(repoDir, 'snapshots', COMMIT, SVD_DIR, 'unet', 'config.json');
    assert.equal(realpathSync(config), join(realpathSync(repoDir), 'blobs', gitOid(REPO[2].data)));
    // weights check without a folder reads the cache
    const check = await quiet(async () => weights.run(['check']));
    // (the imitation's bytes are no checkpoints: found, and refused for what they hold)
    assert.match(check.out, /INVALID {2}\S*snapshots\/c0ffee0+\/Animation\/pose_net\.pth {2}300 KB/);
    assert.match(check.out, /MISSING  Animation\/unet\.pth/);
    assert.match(check.out, /in the Hugging Face cache \(.*hf-cache\)/);
    // a second run downloads nothing; into a folder: links to the cached files
    hub.requests.length = 0;
    const again = await quiet(() => weights.run(['download', root, '--endpoint', hub.endpoint]));
    assert.match(again.out, /Animation\/pose_net\.pth: already in the cache/);
    assert.equal(hub.requests.filter((r) => r.url.includes('/resolve/') || r.url.startsWith('/cdn/')).length, 0);
    assert.equal(realpathSync(join(root, 'Animation', 'pose_net.pth')), realpathSync(join(repoDir, 'blobs', sha256(REPO[0].data))));
    assert.equal(statSync(join(root, SVD_DIR, 'vae', 'diffusion_pytorch_model.fp16.safetensors')).size, 70_000);
    // a user with SVD-xt in the cache (diffusers): those files are taken from there, not downloaded
    const svdDir = repoCacheFolder(SVD_REPO, cache);
    const svdCommit = 'abc'.padEnd(40, '1');
    mkdirSync(join(svdDir, 'refs'), { recursive: true });
    writeFileSync(join(svdDir, 'refs', 'main'), svdCommit);
    mkdirSync(join(svdDir, 'snapshots', svdCommit, 'unet'), { recursive: true });
    writeFileSync(join(svdDir, 'snapshots', svdCommit, 'unet', 'config.json'), '{"in_channels": 8}\n');
    rmSync(join(repoDir, 'blobs', gitOid(REPO[2].data)));
    hub.requests.length = 0;
    const fromSvd = await quiet(() => weights.run(['download', join(tmp, 'cmd2'), '--endpoint', hub.endpoint, '--file', `${SVD_DIR}/unet/config.json`]));
    assert.match(fromSvd.out, /unet\/config\.json: in the cache of stabilityai\/stable-video-diffusion-img2vid-xt, not downloaded/);
    assert.equal(hub.requests.filter((r) => r.url.includes('/resolve/')).length, 0);
    assert.equal(realpathSync(join(tmp, 'cmd2', SVD_DIR, 'unet', 'config.json')), realpathSync(join(svdDir, 'snapshots', svdCommit, 'unet', 'config.json')));
    // the command a missing file's error names fetches it
    const partial = join(tmp, 'partial');
    writeFullSizeLayout(partial);
    unlinkSync(join(partial, 'Animation', 'pose_net.pth'));
    let command = '';
    assert.throws(() => resolveWeightPaths(partial), (e: Error) => { command = /fetch them with:\n {2}(.*)$/.exec(e.message)?.[1] ?? ''; return true; });
    assert.equal(command, `stable-animator weights download ${partial} --file Animation/pose_net.pth`);
    const [, , ...args] = command.split(' ');
    await quiet(() => weights.run([...args, '--endpoint', hub.endpoint]));
    assert.equal(resolveWeightPaths(partial).poseNet, join(partial, 'Animation', 'pose_net.pth'));
    assert.deepEqual(readFileSync(join(partial, 'Animation', 'pose_net.pth')), Buffer.from(REPO[0].data));
    // --file names exact layout paths; one the repository lacks is named
    await assert.rejects(weights.run(['download', '--endpoint', hub.endpoint, '--file', 'Animation/unet.pth']), /not in FrancisRing\/StableAnimator@main: Animation\/unet\.pth/);
  });
  // a folder from an older version (plain files) is kept: verified, not fetched again
  const old = join(tmp, 'old-folder');
  mkdirSync(join(old, 'Animation'), { recursive: true });
  writeFileSync(join(old, 'Animation', 'pose_net.pth'), REPO[0].data);
  await withCache(join(tmp, 'hf-cache-2'), async () => {
    const kept = await quiet(() => weights.run(['download', old, '--endpoint', hub.endpoint, '--file', 'Animation/pose_net.pth']));
    assert.match(kept.out, /pose_net\.pth: already in .*old-folder \(verified\)/);
    assert.ok(!lstatSync(join(old, 'Animation', 'pose_net.pth')).isSymbolicLink());
    const dry = await quiet(() => weights.run(['download', join(tmp, 'dry'), '--endpoint', hub.endpoint, '--all', '--dry-run']));
    assert.match(dry.out, /6 file\(s\)/);
    assert.ok(!existsSync(join(tmp, 'dry')));
  });
  await assert.rejects(weights.run(['download', root, '--minimal', '--all']), /exclude each other/);
  await assert.rejects(weights.run(['fetch']), /unknown subcommand 'fetch'/);
});

test("weights check on the miniature: every file matches the model its own configs describe; a swapped file does not", async () => {
  const mini = resolve('weights/mini');
  const results = checkWeightsFolder(mini, { hjb: true });
  const bad = results.filter((r) => r.needed && r.status !== 'ok');
  assert.deepEqual(bad.map((r) => `${r.path}: ${r.status} ${r.messages.join('; ')}`), []);
  // a copy whose PoseNet file holds the Face Encoder's weights: named as invalid, with the keys at fault
  const copy = join(tmp, 'mini-swapped');
  mkdirSync(join(copy, 'Animation'), { recursive: true });
  symlinkSync(join(mini, SVD_DIR), join(copy, SVD_DIR));
  for (const f of ['unet.safetensors', 'face_encoder.safetensors', 'face_id.safetensors']) symlinkSync(join(mini, 'Animation', f), join(copy, 'Animation', f));
  cpSync(join(mini, 'Animation', 'face_encoder.safetensors'), join(copy, 'Animation', 'pose_net.safetensors'));
  const swapped = checkWeightsFolder(copy).find((r) => r.spec.id === 'pose_net')!;
  assert.equal(swapped.status, 'invalid');
  assert.match(swapped.messages.join('\n'), /missing keys \(\d+\): /);
  assert.match(swapped.messages.join('\n'), /unexpected keys \(\d+\): .*proj\.0\.weight/);
});

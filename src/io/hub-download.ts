// Files from the Hugging Face Hub through its public file API:
//   GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true   the listing (paged by a Link: rel="next"
//       header): [{type: 'file', path, size, oid, lfs?: {oid: sha256, size}}]
//   GET {endpoint}/{repo}/resolve/{revision}/{path}                     the bytes (may redirect to a CDN),
//       with `Range: bytes=N-` to resume (206 Partial Content)
// Downloads go to `<dest>.incomplete`, resume from it after an interruption (also within one run: a dropped
// connection is retried from where it stopped), and are renamed into place only once the size and the hash
// (sha256 of LFS files, the git blob sha1 of small ones) are verified. downloadToCache puts a file in the
// Hugging Face cache (hf-cache.ts): its blob named by that hash, a snapshot link to it.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { blobPath, hfToken, linkSnapshotFile } from './hf-cache.ts';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export interface HubOptions {
  repo: string;
  revision?: string;
  /** Default $HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Bearer token for gated or private repositories (default $HF_TOKEN, else the token `huggingface-cli login` saved). */
  token?: string;
}

export interface HubFile {
  path: string;
  size: number;
  /** sha256 of the content (LFS files). */
  sha256?: string;
  /** git blob id (sha1 of "blob <size>\0" + content) of non-LFS files. */
  gitOid?: string;
}

function endpointOf(opts: HubOptions): string {
  return (opts.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
}

function headers(opts: HubOptions, extra: Record<string, string> = {}): Record<string, string> {
  const token = opts.token ?? hfToken();
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

async function getOk(url: string, init: RequestInit, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new Error(`${what}: cannot reach ${url}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
  }
  if (res.status === 401 || res.status === 403) throw new Error(`${what}: access denied (HTTP ${res.status}); a gated repository needs --token or HF_TOKEN`);
  if (res.status === 404) throw new Error(`${what}: not found (HTTP 404) at ${url}`);
  return res;
}

/** The commit a revision (branch, tag or commit) points at: GET {endpoint}/api/models/{repo}/revision/{revision}. */
export async function repoCommit(opts: HubOptions): Promise<string> {
  const revision = opts.revision ?? 'main';
  const url = `${endpointOf(opts)}/api/models/${opts.repo}/revision/${encodeURIComponent(revision)}`;
  const res = await getOk(url, { headers: headers(opts) }, `resolving ${opts.repo}@${revision}`);
  if (!res.ok) throw new Error(`resolving ${opts.repo}@${revision}: HTTP ${res.status} ${res.statusText}`);
  const sha = ((await res.json()) as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) throw new Error(`resolving ${opts.repo}@${revision}: the answer has no commit sha`);
  return sha;
}

/** Every file of the repository at the revision. */
export async function listHubFiles(opts: HubOptions): Promise<HubFile[]> {
  const base = endpointOf(opts);
  let url: string | undefined = `${base}/api/models/${opts.repo}/tree/${encodeURIComponent(opts.revision ?? 'main')}?recursive=true`;
  const files: HubFile[] = [];
  while (url) {
    const res = await getOk(url, { headers: headers(opts) }, `listing ${opts.repo}`);
    if (!res.ok) throw new Error(`listing ${opts.repo}: HTTP ${res.status} ${res.statusText}`);
    const page = (await res.json()) as { type: string; path: string; size: number; oid?: string; lfs?: { oid: string; size: number } }[];
    if (!Array.isArray(page)) throw new Error(`listing ${opts.repo}: unexpected answer (not a list)`);
    for (const e of page) {
      if (e.type !== 'file') continue;
      files.push(e.lfs ? { path: e.path, size: e.lfs.size ?? e.size, sha256: e.lfs.oid } : { path: e.path, size: e.size, gitOid: e.oid });
    }
    const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '');
    url = next ? new URL(next[1], base).toString() : undefined;
  }
  return files;
}

export interface DownloadProgress {
  path: string;
  bytes: number;
  total: number;
}

export interface DownloadOptions extends HubOptions {
  onProgress?: (p: DownloadProgress) => void;
  /** Attempts after a dropped connection, each resuming where the last stopped. Default 5. */
  retries?: number;
}

export type DownloadOutcome = 'present' | 'downloaded' | 'resumed';

function newHash(file: HubFile): Hash {
  const h = createHash(file.sha256 ? 'sha256' : 'sha1');
  if (!file.sha256) h.update(`blob ${file.size}\0`);
  return h;
}

function expectedDigest(file: HubFile): string | undefined {
  return file.sha256 ?? file.gitOid;
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** Whether `path` holds exactly the file (size and hash). */
export async function verifyFile(path: string, file: HubFile): Promise<boolean> {
  if (!existsSync(path) || statSync(path).size !== file.size) return false;
  const want = expectedDigest(file);
  if (!want) return true;
  const h = newHash(file);
  await hashFile(path, h);
  return h.digest('hex') === want;
}

/** Downloads one file to `dest` (resuming `dest.incomplete`), verified; skips a verified file already there. */
export async function downloadHubFile(file: HubFile, dest: string, opts: DownloadOptions): Promise<DownloadOutcome> {
  if (await verifyFile(dest, file)) return 'present';
  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.incomplete`;
  const url = `${endpointOf(opts)}/${opts.repo}/resolve/${encodeURIComponent(opts.revision ?? 'main')}/${encodePath(file.path)}`;
  let resumed = false;
  const retries = opts.retries ?? 5;
  for (let attempt = 0; ; attempt++) {
    let have = existsSync(part) ? statSync(part).size : 0;
    if (have > file.size) {
      await rm(part);
      have = 0;
    }
    try {
      if (have < file.size) {
        if (have > 0) resumed = true;
        await fetchInto(url, part, have, file, opts);
      }
      break;
    } catch (e) {
      if ((e as { fatal?: boolean }).fatal || attempt >= retries) throw e;
    }
  }
  const size = statSync(part).size;
  if (size !== file.size) throw new Error(`${file.path}: downloaded ${size} bytes, expected ${file.size}`);
  const h = newHash(file);
  await hashFile(part, h);
  const got = h.digest('hex');
  const want = expectedDigest(file);
  if (want && got !== want) {
    await rm(part, { force: true });
    throw new Error(`${file.path}: ${file.sha256 ? 'sha256' : 'git blob sha1'} mismatch (got ${got}, expected ${want}); the partial file was removed, run again`);
  }
  await rename(part, dest);
  return resumed ? 'resumed' : 'downloaded';
}

/** Appends bytes [from, size) to `part` (or rewrites it when the server ignores the range). */
async function fetchInto(url: string, part: string, from: number, file: HubFile, opts: DownloadOptions): Promise<void> {
  const fatal = (message: string) => Object.assign(new Error(message), { fatal: true });
  const res = await getOk(url, { headers: headers(opts, from > 0 ? { range: `bytes=${from}-` } : {}) }, `downloading ${file.path}`)
    .catch((e: Error) => { throw /access denied|not found/.test(e.message) ? fatal(e.message) : e; });
  let offset = from;
  if (res.status === 200) offset = 0;
  else if (res.status === 206) {
    const range = /bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== from) throw fatal(`${file.path}: the server answered range ${res.headers.get('content-range')} to a request from byte ${from}`);
  } else {
    throw fatal(`downloading ${file.path}: HTTP ${res.status} ${res.statusText}`);
  }
  if (!res.body) throw new Error(`${file.path}: empty response`);
  const out = createWriteStream(part, { flags: offset === 0 ? 'w' : 'a' });
  const closed = new Promise<void>((resolve, reject) => { out.on('close', resolve); out.on('error', reject); });
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      offset += chunk.length;
      opts.onProgress?.({ path: file.path, bytes: offset, total: file.size });
    }
  } finally {
    out.end();
    await closed;
  }
  if (offset < file.size) throw new Error(`${file.path}: the connection closed at byte ${offset} of ${file.size}`);
}

/** The name huggingface_hub gives the file's blob: its sha256 (LFS) or git blob id. */
export function etagOf(file: HubFile): string {
  const etag = file.sha256 ?? file.gitOid;
  if (!etag) throw new Error(`${file.path}: the listing gives no hash, so it cannot be cached by content`);
  return etag;
}

/**
 * Downloads one file of the repository at `commit` into the Hugging Face cache (blobs/<etag>, resumed from
 * blobs/<etag>.incomplete as huggingface_hub does) and links snapshots/<commit>/<path> to it. Returns the
 * snapshot path and whether the blob was already there.
 */
export async function downloadToCache(file: HubFile, commit: string, opts: DownloadOptions & { cache?: string }): Promise<{ path: string; outcome: DownloadOutcome }> {
  const etag = etagOf(file);
  const blob = blobPath(opts.repo, etag, opts.cache);
  // a blob is named by its verified hash: present means whole (huggingface_hub renames only finished downloads)
  const outcome = existsSync(blob) && statSync(blob).size === file.size ? 'present' : await downloadHubFile(file, blob, { ...opts, revision: commit });
  return { path: linkSnapshotFile(opts.repo, commit, file.path, etag, opts.cache), outcome };
}

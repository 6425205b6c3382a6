// The Hugging Face cache, as huggingface_hub lays it out (its `file_download.py`), so that files a user already
// has (e.g. SVD-xt fetched by diffusers) are found, and what we fetch is found by their tools:
//
//   $HF_HUB_CACHE (default $HF_HOME/hub, HF_HOME default $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface)
//     models--{org}--{name}/
//       blobs/<etag>                       the content: etag = sha256 (LFS files) or the git blob sha1
//       refs/<revision>                    the commit a branch or tag points at
//       snapshots/<commit>/<path>          relative symlinks to ../../blobs/<etag>
//
// The token is $HF_TOKEN, else the file $HF_TOKEN_PATH (default $HF_HOME/token) that `huggingface-cli login` saves.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { temporaryPathFor, writeFileAtomic } from './atomic.ts';

export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
}

/** The hub cache folder ($HF_HUB_CACHE, or the older $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub). */
export function hfHubCache(env: NodeJS.ProcessEnv = process.env): string {
  return env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? join(hfHome(env), 'hub');
}

/** $HF_TOKEN, else the token `huggingface-cli login` saved; undefined when there is none. */
export function hfToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.HF_TOKEN) return env.HF_TOKEN;
  const file = env.HF_TOKEN_PATH ?? join(hfHome(env), 'token');
  if (!existsSync(file)) return undefined;
  return readFileSync(file, 'utf8').trim() || undefined;
}

/** A model repository's folder in the cache: models--{org}--{name}. */
export function repoCacheFolder(repo: string, cache = hfHubCache()): string {
  return join(cache, `models--${repo.split('/').join('--')}`);
}

const COMMIT = /^[0-9a-f]{40}$/;

/** The commit a revision (branch, tag or commit) names in the cache; undefined when the cache has no ref. */
export function cachedCommit(repo: string, revision = 'main', cache = hfHubCache()): string | undefined {
  if (COMMIT.test(revision)) return revision;
  const ref = join(repoCacheFolder(repo, cache), 'refs', revision);
  if (!existsSync(ref)) return undefined;
  const commit = readFileSync(ref, 'utf8').trim();
  return COMMIT.test(commit) ? commit : undefined;
}

/** The snapshot path of a repository file when the cache holds it (a link to an existing blob), else undefined. */
export function cachedFile(repo: string, path: string, revision = 'main', cache = hfHubCache()): string | undefined {
  const commit = cachedCommit(repo, revision, cache);
  if (!commit) return undefined;
  const file = join(repoCacheFolder(repo, cache), 'snapshots', commit, path);
  return existsSync(file) ? file : undefined; // existsSync follows the link: a dangling one is absent
}

export function blobPath(repo: string, etag: string, cache = hfHubCache()): string {
  return join(repoCacheFolder(repo, cache), 'blobs', etag);
}

/** Links snapshots/<commit>/<path> to the blob (relative, as huggingface_hub does), replacing an old link atomically. */
export function linkSnapshotFile(repo: string, commit: string, path: string, etag: string, cache = hfHubCache()): string {
  const link = join(repoCacheFolder(repo, cache), 'snapshots', commit, path);
  mkdirSync(dirname(link), { recursive: true });
  const temp = temporaryPathFor(link);
  symlinkSync(relative(dirname(link), blobPath(repo, etag, cache)), temp);
  try {
    renameSync(temp, link);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
  return link;
}

/** Records that `revision` points at `commit` (refs/<revision>). */
export async function writeRef(repo: string, revision: string, commit: string, cache = hfHubCache()): Promise<void> {
  if (COMMIT.test(revision)) return;
  await writeFileAtomic(join(repoCacheFolder(repo, cache), 'refs', revision), commit);
}

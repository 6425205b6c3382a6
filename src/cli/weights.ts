// `stable-animator weights check|download`: validate a checkpoint folder (or the default location, the Hugging
// Face cache) without loading tensors, or fetch the released checkpoints into the Hugging Face cache (resumable,
// verified), optionally linked into a folder of the released layout.
import { existsSync, lstatSync, mkdirSync, renameSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { temporaryPathFor } from '../io/atomic.ts';
import { cachedFile, hfHubCache, writeRef } from '../io/hf-cache.ts';
import { downloadToCache, listHubFiles, repoCommit, verifyFile, type DownloadOutcome, type HubFile } from '../io/hub-download.ts';
import { checkWeightsFolder } from '../models/weights-check.ts';
import { describeWeightsRoot, HUB_REPO, hubSourcesOf, WEIGHT_FILES, type WeightNeed } from '../models/weights-layout.ts';
import type { Command } from './main.ts';
import { formatBytes } from '../util/format.ts';
import { progressBar } from './progress-bar.ts';

export const DEFAULT_REPO = HUB_REPO;

const USAGE = `stable-animator weights check [<dir>] [--hjb] [--dwpose]
  stable-animator weights download [<dir>] [--repo ${DEFAULT_REPO}] [--revision main] [--endpoint URL] [--token T]
                                           [--minimal | --all | --file PATH ...] [--dry-run]

  The default location of the weights (animate without --weights, StableAnimator.fromPretrained() without a
  folder) is the Hugging Face cache: $HF_HUB_CACHE, default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface.
  Each file is looked for in the main snapshot of the repositories that publish it: SVD-xt's files in
  stabilityai/stable-video-diffusion-img2vid-xt (where diffusers put them), DWPose's in yzd-v/DWPose, then
  every file in ${DEFAULT_REPO}.

  check      looks for every file of the released layout (Animation/, stable-video-diffusion-img2vid-xt/,
             models/antelopev2/, DWPose/) in <dir> (default: the cache) and compares each state dict's names,
             shapes and dtypes with the reference key lists, reading only file headers. Exit status 1 when a
             needed file is missing or wrong (--hjb: glintr100_torch.pth is needed; --dwpose: the DWPose models are).
  download   fetches the files the pipeline uses (--minimal: only those every run needs; --all: the whole
             repository; --file: the layout paths named) from the Hugging Face Hub ($HF_ENDPOINT; token from
             --token, $HF_TOKEN or the one \`huggingface-cli login\` saved) into the cache, skipping those the cache
             already has (SVD-xt's from its own repository too). Interrupted downloads resume
             (blobs/<hash>.incomplete); sizes and hashes are verified before a file is put in place. With <dir>,
             the files are also linked into <dir> in the released layout (a verified file already there is kept).`;

function check(args: string[]): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { hjb: { type: 'boolean' }, dwpose: { type: 'boolean' } } });
  if (positionals.length > 1) throw new Error(`usage: ${USAGE.split('\n')[0]}`);
  const root = positionals[0];
  const results = checkWeightsFolder(root, { hjb: values.hjb, dwpose: values.dwpose });
  let failed = 0;
  for (const r of results) {
    const rel = root !== undefined && r.path.startsWith(root) ? r.path.slice(root.length).replace(/^\/+/, '') : r.path;
    const status = r.status === 'ok' ? 'ok     ' : r.status === 'missing' ? (r.needed ? 'MISSING' : 'absent ') : 'INVALID';
    const size = r.bytes !== undefined ? `  ${formatBytes(r.bytes)}` : '';
    console.log(`${status}  ${rel}${size}  (${r.spec.purpose}${r.needed ? '' : '; not needed'})`);
    for (const m of r.messages) console.log(`           ${m}`);
    if (r.needed && r.status !== 'ok') failed++;
  }
  const where = describeWeightsRoot(root);
  console.log(failed ? `${failed} needed file(s) missing or invalid in ${where}` : `${where}: every needed file is present and matches`);
  return failed ? 1 : 0;
}

/** Which files of the listing to fetch: per layout entry, its first candidate the repository has. */
export function selectFiles(listing: HubFile[], mode: 'default' | 'minimal' | 'all'): { files: HubFile[]; absent: string[] } {
  if (mode === 'all') return { files: listing, absent: [] };
  const needs: WeightNeed[] = mode === 'minimal' ? ['always'] : ['always', 'hjb', 'face', 'dwpose'];
  const byPath = new Map(listing.map((f) => [f.path, f]));
  const files: HubFile[] = [];
  const absent: string[] = [];
  for (const spec of WEIGHT_FILES) {
    if (!needs.includes(spec.need)) continue;
    const hit = spec.candidates.map((c) => byPath.get(c)).find((f) => f);
    if (hit) files.push(hit);
    else absent.push(spec.candidates.join(' or '));
  }
  return { files, absent };
}

/** The listing's files named by --file (layout paths), or an error naming those the repository lacks. */
function namedFiles(listing: HubFile[], names: string[], where: string): HubFile[] {
  const byPath = new Map(listing.map((f) => [f.path, f]));
  const absent = names.filter((n) => !byPath.has(n));
  if (absent.length) throw new Error(`not in ${where}: ${absent.join(', ')}`);
  return names.map((n) => byPath.get(n)!);
}

/** A layout file the cache already holds in another repository that publishes it (SVD-xt's own), else undefined. */
function elsewhereInCache(repo: string, path: string): { repo: string; path: string } | undefined {
  if (repo !== HUB_REPO) return undefined;
  for (const s of hubSourcesOf(path)) {
    const hit = s.repo !== repo ? cachedFile(s.repo, s.path) : undefined;
    if (hit) return { repo: s.repo, path: hit };
  }
  return undefined;
}

/** Links <dir>/<path> to the cached file, replacing an older link atomically. */
function linkInto(dir: string, path: string, target: string): void {
  const link = join(dir, path);
  mkdirSync(dirname(link), { recursive: true });
  const temp = temporaryPathFor(link);
  symlinkSync(resolve(target), temp);
  renameSync(temp, link);
}

async function download(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      repo: { type: 'string', default: DEFAULT_REPO }, revision: { type: 'string', default: 'main' }, endpoint: { type: 'string' },
      token: { type: 'string' }, minimal: { type: 'boolean' }, all: { type: 'boolean' }, file: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean' },
    },
  });
  if (positionals.length > 1) throw new Error(`usage: ${USAGE.split('\n')[1].trim()}`);
  if ([values.minimal, values.all, values.file].filter(Boolean).length > 1) throw new Error('--minimal, --all and --file exclude each other');
  const dir = positionals[0];
  const hub = { repo: values.repo!, revision: values.revision, endpoint: values.endpoint, token: values.token };
  const commit = await repoCommit(hub);
  const listing = await listHubFiles({ ...hub, revision: commit });
  const where = `${hub.repo}@${hub.revision}`;
  const { files, absent } = values.file
    ? { files: namedFiles(listing, values.file, where), absent: [] }
    : selectFiles(listing, values.all ? 'all' : values.minimal ? 'minimal' : 'default');
  for (const a of absent) console.error(`not in ${where}: ${a}`);
  const total = files.reduce((n, f) => n + f.size, 0);
  console.log(`${files.length} file(s), ${formatBytes(total)} from ${where} (commit ${commit.slice(0, 10)}) into ${hfHubCache()}${dir ? `, linked into ${dir}` : ''}`);
  if (values['dry-run']) {
    for (const f of files) {
      const other = elsewhereInCache(hub.repo, f.path);
      console.log(`  ${f.path}  ${formatBytes(f.size)}${other ? `  (in the cache of ${other.repo})` : ''}`);
    }
    return 0;
  }
  await writeRef(hub.repo, hub.revision!, commit);
  let done = 0;
  for (const [i, f] of files.entries()) {
    const label = `[${i + 1}/${files.length}] ${f.path}`;
    let note: string;
    const own = dir !== undefined && existsSync(join(dir, f.path)) && !lstatSync(join(dir, f.path)).isSymbolicLink();
    if (own && await verifyFile(join(dir!, f.path), f)) {
      note = `already in ${dir} (verified)`;
    } else {
      const other = elsewhereInCache(hub.repo, f.path);
      let path: string;
      if (other) {
        path = other.path;
        note = `in the cache of ${other.repo}, not downloaded`;
      } else {
        const bar = progressBar(label, { unit: 'bytes' });
        let outcome: DownloadOutcome;
        ({ path, outcome } = await downloadToCache(f, commit, { ...hub, onProgress: (p) => bar.update(p.bytes, p.total) }));
        bar.finish();
        note = outcome === 'present' ? 'already in the cache' : outcome === 'resumed' ? 'resumed, verified' : 'downloaded, verified';
      }
      if (dir !== undefined) linkInto(dir, f.path, path);
    }
    done += f.size;
    console.error(`${label}: ${note} (${formatBytes(f.size)}; ${formatBytes(done)}/${formatBytes(total)} in all)`);
  }
  return 0;
}

export const weights: Command = {
  summary: 'check a StableAnimator checkpoint folder, or download the released checkpoints from the Hugging Face Hub',
  usage: USAGE,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'check') return check(rest);
    if (sub === 'download') return download(rest);
    throw new Error(`unknown subcommand '${sub ?? ''}': use check or download\n\nusage: ${USAGE}`);
  },
};

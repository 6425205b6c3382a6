// `stable-animator weights check|download`: validate a checkpoint folder without loading tensors, or fetch the
// released checkpoints from the Hugging Face Hub (resumable, verified).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { downloadHubFile, listHubFiles, type HubFile } from '../io/hub-download.ts';
import { checkWeightsFolder } from '../models/weights-check.ts';
import { WEIGHT_FILES, type WeightNeed } from '../models/weights-layout.ts';
import type { Command } from './main.ts';
import { formatBytes } from '../util/format.ts';
import { progressBar } from './progress-bar.ts';

export const DEFAULT_REPO = 'FrancisRing/StableAnimator';

const USAGE = `stable-animator weights check <dir> [--hjb] [--dwpose]
  stable-animator weights download <dir> [--repo ${DEFAULT_REPO}] [--revision main] [--endpoint URL] [--token T]
                                         [--minimal | --all] [--dry-run]

  check      looks for every file of the released layout (Animation/, stable-video-diffusion-img2vid-xt/,
             models/antelopev2/, DWPose/) and compares each state dict's names, shapes and dtypes with the
             reference key lists, reading only file headers. Exit status 1 when a needed file is missing or wrong
             (--hjb: glintr100_torch.pth is needed; --dwpose: the DWPose models are).
  download   fetches the files the pipeline uses (--minimal: only those every run needs; --all: the whole
             repository) from the Hugging Face Hub ($HF_ENDPOINT, token from --token or $HF_TOKEN). Interrupted
             downloads resume (<file>.incomplete); sizes and hashes are verified before a file is put in place.`;

function check(args: string[]): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { hjb: { type: 'boolean' }, dwpose: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new Error(`usage: ${USAGE.split('\n')[0]}`);
  const root = positionals[0];
  const results = checkWeightsFolder(root, { hjb: values.hjb, dwpose: values.dwpose });
  let failed = 0;
  for (const r of results) {
    const rel = r.path.startsWith(root) ? r.path.slice(root.length).replace(/^\/+/, '') : r.path;
    const status = r.status === 'ok' ? 'ok     ' : r.status === 'missing' ? (r.needed ? 'MISSING' : 'absent ') : 'INVALID';
    const size = r.bytes !== undefined ? `  ${formatBytes(r.bytes)}` : '';
    console.log(`${status}  ${rel}${size}  (${r.spec.purpose}${r.needed ? '' : '; not needed'})`);
    for (const m of r.messages) console.log(`           ${m}`);
    if (r.needed && r.status !== 'ok') failed++;
  }
  console.log(failed ? `${failed} needed file(s) missing or invalid in ${root}` : `${root}: every needed file is present and matches`);
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

async function download(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      repo: { type: 'string', default: DEFAULT_REPO }, revision: { type: 'string', default: 'main' }, endpoint: { type: 'string' },
      token: { type: 'string' }, minimal: { type: 'boolean' }, all: { type: 'boolean' }, 'dry-run': { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new Error(`usage: ${USAGE.split('\n')[1].trim()}`);
  if (values.minimal && values.all) throw new Error('--minimal and --all exclude each other');
  const root = positionals[0];
  const hub = { repo: values.repo!, revision: values.revision, endpoint: values.endpoint, token: values.token };
  const listing = await listHubFiles(hub);
  const { files, absent } = selectFiles(listing, values.all ? 'all' : values.minimal ? 'minimal' : 'default');
  for (const a of absent) console.error(`not in ${hub.repo}@${hub.revision}: ${a}`);
  const total = files.reduce((n, f) => n + f.size, 0);
  console.log(`${files.length} file(s), ${formatBytes(total)} from ${hub.repo}@${hub.revision} into ${root}`);
  if (values['dry-run']) {
    for (const f of files) console.log(`  ${f.path}  ${formatBytes(f.size)}`);
    return 0;
  }
  let done = 0;
  for (const [i, f] of files.entries()) {
    const bar = progressBar(`[${i + 1}/${files.length}] ${f.path}`, { unit: 'bytes' });
    const outcome = await downloadHubFile(f, join(root, f.path), { ...hub, onProgress: (p) => bar.update(p.bytes, p.total) });
    done += f.size;
    bar.finish(`${outcome === 'present' ? 'already there (verified)' : outcome === 'resumed' ? 'resumed, verified' : 'downloaded, verified'}: ${f.path} (${formatBytes(f.size)}; ${formatBytes(done)}/${formatBytes(total)} in all)`);
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

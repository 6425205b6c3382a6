// The StableAnimator training set as the reference lays it out (`animation_dataset.py`, `command_train.sh`):
//
//   <root>/rec/<id>/{images,faces,poses}/frame_0.png ...   (the 512x512 bucket)
//   <root>/vec/<id>/{images,faces,poses}/frame_0.png ...   (the 576x1024 W x H bucket)
//   <root>/video_rec_path.txt, <root>/video_vec_path.txt   (one clip folder per line)
//
// images/ holds the video frames, poses/ the skeletons drawn from them (unaligned), faces/ the face masks
// (white = face). A path list may name folders absolutely from another machine (the reference's lists do):
// a listed path that does not exist is looked up as <root>/<bucket>/<its last folder name>. Without a path
// list the bucket folder's sub-folders are used. Entries that cannot be used (a missing folder, frames
// missing from poses/ or faces/, too few frames) are reported with the reason and left out, never fatal.
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { isImagePath } from '../../io/image.ts';
import { sortNatural } from '../../io/natural-sort.ts';

export interface BucketSpec {
  /** Folder under the root, also the `video_<name>_path.txt` list's name. */
  name: string;
  width: number;
  height: number;
}

/** The reference's two resolution buckets. */
export const REFERENCE_BUCKETS: readonly BucketSpec[] = [
  { name: 'rec', width: 512, height: 512 },
  { name: 'vec', width: 576, height: 1024 },
];

export interface ClipEntry {
  bucket: string;
  /** The clip folder (holding images/, faces/, poses/). */
  dir: string;
  /** Frame file names present in all three folders, in natural order. */
  frames: string[];
}

export interface SkippedEntry {
  path: string;
  reason: string;
}

export interface DatasetIndex {
  root: string;
  buckets: BucketSpec[];
  entries: ClipEntry[];
  skipped: SkippedEntry[];
}

export const CLIP_FOLDERS = ['images', 'poses', 'faces'] as const;

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function listedClips(root: string, bucket: string): Promise<string[] | undefined> {
  const list = join(root, `video_${bucket}_path.txt`);
  if (!existsSync(list)) return undefined;
  const lines = (await readFile(list, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return lines.map((line) => {
    const path = isAbsolute(line) ? line : join(root, line);
    if (existsSync(path)) return path;
    const local = join(root, bucket, basename(line));
    return existsSync(local) ? local : path;
  });
}

async function bucketClips(root: string, bucket: string): Promise<string[]> {
  const listed = await listedClips(root, bucket);
  if (listed) return listed;
  const dir = join(root, bucket);
  if (!(await isDir(dir))) return [];
  const names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  return sortNatural(names).map((n) => join(dir, n));
}

/** Why a clip folder cannot be used, or its frame names. */
export async function checkClip(dir: string, minFrames: number): Promise<string[] | string> {
  const listings: string[][] = [];
  for (const sub of CLIP_FOLDERS) {
    const path = join(dir, sub);
    if (!(await isDir(path))) return `no ${sub}/ folder`;
    listings.push(sortNatural((await readdir(path)).filter(isImagePath)));
  }
  const [images, poses, faces] = listings as [string[], string[], string[]];
  const missing = (have: string[], label: string) => {
    const set = new Set(have);
    const absent = images.filter((f) => !set.has(f));
    return absent.length ? `${absent.length} of ${images.length} frames missing from ${label}/ (first: ${absent[0]})` : undefined;
  };
  const bad = missing(poses, 'poses') ?? missing(faces, 'faces');
  if (bad) return bad;
  if (images.length < minFrames) return `${images.length} frames, need at least ${minFrames} (the clip plus a reference frame outside it)`;
  return images;
}

/**
 * Lists the usable clips of every bucket. `minFrames`: entries with fewer frames are skipped (the sampler
 * needs the clip's frames plus one reference frame outside them).
 */
export async function indexDataset(root: string, opts: { buckets?: readonly BucketSpec[]; minFrames?: number } = {}): Promise<DatasetIndex> {
  if (!(await isDir(root))) throw new Error(`dataset ${root}: folder not found (expected ${root}/{rec,vec}/<id>/{images,faces,poses}/frame_i.png)`);
  const buckets = [...(opts.buckets ?? REFERENCE_BUCKETS)];
  const entries: ClipEntry[] = [];
  const skipped: SkippedEntry[] = [];
  for (const b of buckets) {
    for (const dir of await bucketClips(root, b.name)) {
      const checked = await checkClip(dir, opts.minFrames ?? 2);
      if (typeof checked === 'string') skipped.push({ path: dir, reason: checked });
      else entries.push({ bucket: b.name, dir, frames: checked });
    }
  }
  return { root, buckets, entries, skipped };
}

export function bucketSpec(index: DatasetIndex, name: string): BucketSpec {
  const b = index.buckets.find((x) => x.name === name);
  if (!b) throw new Error(`dataset ${index.root}: unknown bucket '${name}' (have ${index.buckets.map((x) => x.name).join(', ')})`);
  return b;
}

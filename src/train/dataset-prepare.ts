// `dataset prepare`: raw videos -> StableAnimator's training layout, with the paper's filters.
//
//   <root>/{rec,vec}/<id>/images/frame_i.png   RGB frames at the bucket's size
//   <root>/{rec,vec}/<id>/poses/frame_i.png    skeletons drawn as the reference draws them (unaligned)
//   <root>/{rec,vec}/<id>/faces/frame_i.png    face masks: every face box 255 on 0 (single channel)
//   <root>/{rec,vec}/<id>/keypoints.json       the keypoints behind the skeletons (our keypoint JSON)
//   <root>/{rec,vec}/<id>/clip.json            the clip's statistics; written last: its presence = done
//   <root>/dropped/<id>.json                   a dropped clip's statistics and reasons (frames deleted)
//   <root>/video_rec_path.txt, video_vec_path.txt   absolute clip folder paths, one per line
//   <root>/summary.json                        every clip: kept / dropped / error and why
//
// Clip ids are the inputs' positions (00001, 00002, ...); a re-run with the same inputs skips every clip
// that has a marker, redoes a clip that was interrupted (its folder has no clip.json) and retries errors.

import { readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import type { FrameProgress } from '../io/frame-folder.ts';
import { resizeImage, writeImage, type Image } from '../io/image.ts';
import { detectFaces, largestFace, type DetectFacesOptions } from '../face/detect.ts';
import { faceMask, writeMask } from '../face/masks.ts';
import type { PoseDetector } from '../pose/detector.ts';
import { openMedia } from '../pose/extract.ts';
import { writeKeypointJson } from '../pose/keypoint-json.ts';
import { NUM_BODY, isVisible, type PoseFrame } from '../pose/keypoints.ts';
import { writePoseImage } from '../pose/render.ts';
import { formatTable } from '../util/format.ts';
import {
  estimateBackgroundMotion, median, personBoxes, summarizeCameraMotion, toGray, type CameraMotionSummary, type GrayFrame, type PairMotion,
} from './dataset-prepare-motion.ts';

export type Bucket = 'rec' | 'vec';

/** The reference's two training resolutions: 512x512 ('rec') and W576 x H1024 ('vec'). */
export const BUCKET_SIZES: Record<Bucket, [number, number]> = { rec: [512, 512], vec: [576, 1024] };

export interface DatasetFilters {
  /** A frame's skeleton is bad when it misses more than this fraction of the 18 body points (paper: 70%). */
  maxMissingKeypoints: number;
  /** Drop the clip when more than this fraction of its frames have a bad skeleton. */
  maxBadPoseFrames: number;
  /** Drop ('no-face') when fewer than this fraction of frames have a face. */
  minFaceFrames: number;
  /** Drop ('low-face-score') when the median best-face score of the frames with a face is below this. */
  minFaceScore: number;
  /** Drop ('camera-motion') when the median background shift per frame exceeds this fraction of the width. */
  maxCameraSpeed: number;
  /** ... or when the accumulated background shift strays more than this fraction of the width. */
  maxCameraExcursion: number;
  /** A frame pair whose background RMS residual after the best shift exceeds this is a cut ('shot-change'). */
  cutResidual: number;
}

export const DEFAULT_FILTERS: DatasetFilters = {
  maxMissingKeypoints: 0.7,
  maxBadPoseFrames: 0.1,
  minFaceFrames: 0.5,
  minFaceScore: 0.6,
  maxCameraSpeed: 0.01,
  maxCameraExcursion: 0.1,
  cutResidual: 0.08,
};

export type DropFilter = 'too-short' | 'keypoints' | 'no-face' | 'low-face-score' | 'camera-motion' | 'shot-change' | 'error';

export interface DropReason {
  filter: DropFilter;
  detail: string;
}

export interface ClipStats {
  frames: number;
  size: [number, number];
  /** Mean fraction of the 18 body points visible (best person per frame; no person = 0). */
  keypointCoverage: number;
  /** Frames whose skeleton misses more than maxMissingKeypoints. */
  badPoseFrames: number;
  /** Most persons in one frame. */
  maxPersons: number;
  /** Frames with a face, and the median of their best face scores (NaN when none). */
  faceFrames: number;
  medianFaceScore: number;
  camera: CameraMotionSummary;
}

export interface ClipResult {
  format: 'stable-animator-clip/1';
  id: string;
  source: string;
  sourceBytes: number;
  status: 'kept' | 'dropped' | 'error';
  bucket?: Bucket;
  /** The clip folder (kept clips). */
  dir?: string;
  fps?: number;
  stats?: ClipStats;
  reasons: DropReason[];
}

export interface PrepareOptions {
  detector: PoseDetector;
  /** Resample videos to this frame rate. */
  fps?: number;
  /** Output size for every clip; default by aspect: portrait (H >= 1.2 W) -> vec 576x1024, else rec 512x512. */
  size?: [number, number];
  /** Shorter clips are dropped (default 17: 16 sampled frames plus a reference frame outside them). */
  minFrames?: number;
  /** Use at most this many frames of each video. */
  maxFrames?: number;
  filters?: Partial<DatasetFilters>;
  /** Mask of a frame without a face: 'full' (all 255, the reference's fallback; default) or 'empty'. */
  missingFace?: 'full' | 'empty';
  faces?: DetectFacesOptions;
  /** Grey width for the camera-motion check (default 128). */
  analysisWidth?: number;
  onProgress?: (progress: FrameProgress) => void;
  /** Called as each clip is finished or skipped. */
  onClip?: (result: ClipResult, skipped: boolean) => void;
}

export interface PrepareSummary {
  format: 'stable-animator-dataset-summary/1';
  root: string;
  filters: DatasetFilters;
  kept: number;
  dropped: number;
  errors: number;
  /** Dropped clips per filter (a clip may fail several). */
  byReason: Partial<Record<DropFilter, number>>;
  clips: ClipResult[];
}

/** Which bucket a frame size belongs to. */
export function bucketFor(width: number, height: number): Bucket {
  return height >= 1.2 * width ? 'vec' : 'rec';
}

/** The filters' verdict on a clip's statistics (empty = keep). */
export function judgeClip(stats: ClipStats, filters: DatasetFilters, minFrames: number): DropReason[] {
  const reasons: DropReason[] = [];
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  if (stats.frames < minFrames) reasons.push({ filter: 'too-short', detail: `${stats.frames} frames < ${minFrames}` });
  const bad = stats.frames ? stats.badPoseFrames / stats.frames : 1;
  if (bad > filters.maxBadPoseFrames) {
    reasons.push({
      filter: 'keypoints',
      detail: `${stats.badPoseFrames}/${stats.frames} frames miss more than ${pct(filters.maxMissingKeypoints)} of the body keypoints (allowed ${pct(filters.maxBadPoseFrames)})`,
    });
  }
  const withFace = stats.frames ? stats.faceFrames / stats.frames : 0;
  if (withFace < filters.minFaceFrames) {
    reasons.push({ filter: 'no-face', detail: `a face in ${stats.faceFrames}/${stats.frames} frames (needs ${pct(filters.minFaceFrames)})` });
  } else if (!(stats.medianFaceScore >= filters.minFaceScore)) {
    reasons.push({ filter: 'low-face-score', detail: `median face score ${stats.medianFaceScore.toFixed(3)} < ${filters.minFaceScore}` });
  }
  const cam = stats.camera;
  if (cam.cuts.length > 0) {
    reasons.push({ filter: 'shot-change', detail: `background changes at frame pair(s) ${cam.cuts.slice(0, 5).join(', ')} (residual > ${filters.cutResidual})` });
  }
  if (cam.speed > filters.maxCameraSpeed || cam.excursion > filters.maxCameraExcursion) {
    reasons.push({
      filter: 'camera-motion',
      detail: `background moves ${pct(cam.speed)} of the width per frame (max ${pct(filters.maxCameraSpeed)}), ` +
        `up to ${pct(cam.excursion)} from the start (max ${pct(filters.maxCameraExcursion)})`,
    });
  }
  return reasons;
}

/** Visible body points of the frame's best person, as a fraction of 18. */
export function bodyCoverage(frame: PoseFrame): number {
  let best = 0;
  for (const p of frame.persons) best = Math.max(best, p.body.filter((k) => isVisible(k)).length);
  return best / NUM_BODY;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
}

const clipId = (index: number) => String(index + 1).padStart(5, '0');
const markerPaths = (root: string, id: string) => [join(root, 'rec', id, 'clip.json'), join(root, 'vec', id, 'clip.json'), join(root, 'dropped', `${id}.json`)];

/** The finished result for clip `id` of `source`, if a previous run recorded one. */
async function finishedClip(root: string, id: string, source: string): Promise<ClipResult | undefined> {
  for (const path of markerPaths(root, id)) {
    const done = await readJson<ClipResult>(path);
    if (!done) continue;
    if (done.source !== source) {
      throw new Error(`${path}: clip ${id} was made from ${done.source}, but input ${Number(id)} is now ${source} (use a new output folder or the same input list)`);
    }
    return done;
  }
  return undefined;
}

interface FrameWriter {
  dir: string;
  bucket: Bucket;
  size: [number, number];
}

/** Processes one video into `<root>/<bucket>/<id>`; returns its statistics and where it went. */
async function processClip(root: string, id: string, source: string, options: PrepareOptions, report: (frames: number) => void): Promise<{ stats: ClipStats; out: FrameWriter; poses: PoseFrame[]; fps?: number }> {
  const filters = { ...DEFAULT_FILTERS, ...options.filters };
  const media = await openMedia(source, { fps: options.fps, maxFrames: options.maxFrames });
  (options.detector as { reset?: () => void }).reset?.();
  let out: FrameWriter | undefined;
  const poses: PoseFrame[] = [];
  const motions: (PairMotion | undefined)[] = [];
  const coverage: number[] = [];
  const faceScores: number[] = [];
  let maxPersons = 0;
  let previous: { gray: GrayFrame; frame: PoseFrame } | undefined;
  const analysisWidth = options.analysisWidth ?? 128;
  for await (const decoded of media.frames) {
    if (!out) {
      const size = options.size ?? BUCKET_SIZES[bucketFor(decoded.width, decoded.height)];
      const bucket = bucketFor(size[0], size[1]);
      out = { dir: join(root, bucket, id), bucket, size };
    }
    const i = poses.length;
    const [w, h] = out.size;
    // 'cover' keeps the aspect ratio and crops the centre, so people are never stretched
    const image: Image = decoded.width === w && decoded.height === h ? decoded : await resizeImage(decoded, w, h, { fit: 'cover', kernel: 'linear' });
    await writeImage(join(out.dir, 'images', `frame_${i}.png`), image);
    const pose = await options.detector.detect(image);
    poses.push(pose);
    await writePoseImage(join(out.dir, 'poses', `frame_${i}.png`), pose, w, h);
    coverage.push(bodyCoverage(pose));
    maxPersons = Math.max(maxPersons, pose.persons.length);
    const faces = await detectFaces(image, options.faces);
    const best = largestFace(faces);
    if (best) faceScores.push(best.score);
    const fill = faces.length === 0 && (options.missingFace ?? 'full') === 'full' ? 255 : 0;
    await writeMask(join(out.dir, 'faces', `frame_${i}.png`), faceMask(w, h, faces.map((f) => f.box), fill));
    const gray = toGray(image, analysisWidth);
    if (previous) {
      motions.push(estimateBackgroundMotion(previous.gray, gray, [...personBoxes(previous.frame), ...personBoxes(pose)]));
    }
    previous = { gray, frame: pose };
    report(1);
  }
  if (!out) throw new Error(`${source}: no frames`);
  const stats: ClipStats = {
    frames: poses.length,
    size: out.size,
    keypointCoverage: coverage.reduce((a, b) => a + b, 0) / Math.max(1, coverage.length),
    badPoseFrames: coverage.filter((c) => 1 - c > filters.maxMissingKeypoints).length,
    maxPersons,
    faceFrames: faceScores.length,
    medianFaceScore: median(faceScores),
    camera: summarizeCameraMotion(motions, previous!.gray.width, filters.cutResidual),
  };
  return { stats, out, poses, fps: media.fps };
}

/** Prepares every video; returns (and writes) the summary. Safe to re-run on the same root. */
export async function prepareDataset(sources: string[], root: string, options: PrepareOptions): Promise<PrepareSummary> {
  const absRoot = resolve(root);
  const filters = { ...DEFAULT_FILTERS, ...options.filters };
  const minFrames = options.minFrames ?? 17;
  const results: ClipResult[] = [];
  const todo: { index: number; source: string; bytes: number; total?: number }[] = [];
  for (const [index, input] of sources.entries()) {
    const source = resolve(input);
    const bytes = await stat(source).then((s) => (s.isDirectory() ? 0 : s.size), () => {
      throw new Error(`input ${input} does not exist`);
    });
    const done = await finishedClip(absRoot, clipId(index), source);
    if (done) {
      results[index] = done;
      options.onClip?.(done, true);
    } else {
      todo.push({ index, source, bytes });
    }
  }
  // Frame totals for progress and ETA (unknown for folders until read; they count as they go).
  for (const t of todo) t.total = await openMedia(t.source, { fps: options.fps, maxFrames: options.maxFrames }).then((m) => m.total, () => 0);
  const total = todo.reduce((n, t) => n + (t.total ?? 0), 0);
  let framesDone = 0;
  const report = (n: number) => {
    framesDone += n;
    options.onProgress?.({ frames: framesDone, total: Math.max(total, framesDone) });
  };

  for (const { index, source, bytes } of todo) {
    const id = clipId(index);
    const base = { format: 'stable-animator-clip/1' as const, id, source, sourceBytes: bytes };
    // Whatever an interrupted run left for this clip is incomplete (no marker): start it afresh.
    await Promise.all(['rec', 'vec'].map((b) => rm(join(absRoot, b, id), { recursive: true, force: true })));
    let result: ClipResult;
    try {
      const { stats, out, poses, fps } = await processClip(absRoot, id, source, options, report);
      const reasons = judgeClip(stats, filters, minFrames);
      if (reasons.length === 0) {
        await writeKeypointJson(join(out.dir, 'keypoints.json'), { size: out.size, ...(fps ? { fps } : {}), frames: poses });
        result = { ...base, status: 'kept', bucket: out.bucket, dir: out.dir, ...(fps ? { fps } : {}), stats, reasons };
        await writeFileAtomic(join(out.dir, 'clip.json'), JSON.stringify(result, null, 1) + '\n');
      } else {
        await rm(out.dir, { recursive: true, force: true });
        result = { ...base, status: 'dropped', bucket: out.bucket, ...(fps ? { fps } : {}), stats, reasons };
        await writeFileAtomic(join(absRoot, 'dropped', `${id}.json`), JSON.stringify(result, null, 1) + '\n');
      }
    } catch (err) {
      // Reported, not recorded: the next run retries it.
      await Promise.all(['rec', 'vec'].map((b) => rm(join(absRoot, b, id), { recursive: true, force: true })));
      result = { ...base, status: 'error', reasons: [{ filter: 'error', detail: (err as Error).message }] };
    }
    results[index] = result;
    options.onClip?.(result, false);
    await writeIndex(absRoot, results.filter(Boolean), filters);
  }
  return writeIndex(absRoot, results.filter(Boolean), filters);
}

/** Rewrites the path lists and summary.json from the results so far. */
async function writeIndex(root: string, clips: ClipResult[], filters: DatasetFilters): Promise<PrepareSummary> {
  for (const bucket of ['rec', 'vec'] as const) {
    // from the root as it is now (a moved dataset gets correct lists on its next run)
    const dirs = clips.filter((c) => c.status === 'kept' && c.bucket === bucket).map((c) => join(root, bucket, c.id));
    await writeFileAtomic(join(root, `video_${bucket}_path.txt`), dirs.map((d) => d + '\n').join(''));
  }
  const byReason: Partial<Record<DropFilter, number>> = {};
  for (const c of clips) if (c.status !== 'kept') for (const r of c.reasons) byReason[r.filter] = (byReason[r.filter] ?? 0) + 1;
  const summary: PrepareSummary = {
    format: 'stable-animator-dataset-summary/1',
    root,
    filters,
    kept: clips.filter((c) => c.status === 'kept').length,
    dropped: clips.filter((c) => c.status === 'dropped').length,
    errors: clips.filter((c) => c.status === 'error').length,
    byReason,
    clips,
  };
  await writeFileAtomic(join(root, 'summary.json'), JSON.stringify(summary, null, 1) + '\n');
  return summary;
}

/** The summary as a text table: one line per clip, then the totals. */
export function formatSummaryTable(summary: PrepareSummary): string {
  const rows = summary.clips.map((c) => {
    const s = c.stats;
    return [
      c.id, c.status, c.bucket ?? '-', s ? String(s.frames) : '-',
      s ? `${(100 * s.keypointCoverage).toFixed(0)}%` : '-',
      s ? `${s.faceFrames}/${s.frames}` : '-',
      s && Number.isFinite(s.camera.speed) ? `${(100 * s.camera.speed).toFixed(2)}%` : '-',
      c.reasons.map((r) => r.filter).join(',') || '-',
      c.source,
    ];
  });
  const header = ['id', 'status', 'bucket', 'frames', 'body kp', 'faces', 'cam/frame', 'dropped by', 'source'];
  const reasons = Object.entries(summary.byReason).map(([k, n]) => `${k} ${n}`).join(', ');
  return [formatTable(header, rows), '',
    `kept ${summary.kept}, dropped ${summary.dropped}${reasons ? ` (${reasons})` : ''}, errors ${summary.errors}`].join('\n');
}

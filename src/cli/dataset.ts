// `stable-animator dataset prepare`: training data in StableAnimator's layout from raw videos.

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openPoseDetector, type DetectorKind } from '../pose/extract.ts';
import { DEFAULT_FILTERS, formatSummaryTable, prepareDataset, type DatasetFilters } from '../train/dataset-prepare.ts';
import type { Command } from './main.ts';
import { num, parseSize } from './args.ts';
import { progressReporter } from './progress.ts';

const USAGE = `stable-animator dataset prepare <video|frame dir>... -o <root> [--fps N] [--size WxH] [--min-frames N] [--max-frames N]
                                 [--detector dwpose|default] [--dwpose-dir DIR] [--missing-face full|empty]
                                 [--max-missing-keypoints F] [--max-bad-pose-frames F] [--min-face-frames F]
                                 [--min-face-score F] [--max-camera-speed F] [--max-camera-excursion F] [--cut-residual F]

  Writes <root>/{rec,vec}/<id>/{images,faces,poses}/frame_i.png, keypoints.json and clip.json per kept clip,
  <root>/video_rec_path.txt and video_vec_path.txt (clip folders, one per line), and <root>/summary.json.
  Clips are sized by aspect (portrait -> vec 576x1024, else rec 512x512, centre-cropped) unless --size is given.
  Filters (defaults): a frame's skeleton is bad when it misses more than ${DEFAULT_FILTERS.maxMissingKeypoints} of the 18 body
  points, and a clip with more than ${DEFAULT_FILTERS.maxBadPoseFrames} bad frames is dropped; a face must be found in ${DEFAULT_FILTERS.minFaceFrames} of the
  frames with a median score of ${DEFAULT_FILTERS.minFaceScore}; the background may move at most ${DEFAULT_FILTERS.maxCameraSpeed} of the width per frame and
  ${DEFAULT_FILTERS.maxCameraExcursion} in all, and no frame pair may change it beyond a residual of ${DEFAULT_FILTERS.cutResidual} (a cut). See docs/dataset.md.
  Re-running with the same inputs resumes: finished clips are skipped, interrupted ones redone.`;

const FILTER_FLAGS: Record<string, keyof DatasetFilters> = {
  'max-missing-keypoints': 'maxMissingKeypoints',
  'max-bad-pose-frames': 'maxBadPoseFrames',
  'min-face-frames': 'minFaceFrames',
  'min-face-score': 'minFaceScore',
  'max-camera-speed': 'maxCameraSpeed',
  'max-camera-excursion': 'maxCameraExcursion',
  'cut-residual': 'cutResidual',
};

const optional = (name: string, text: string | undefined, integer: boolean) => (text === undefined ? undefined : num(name, text, integer));

async function prepare(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      fps: { type: 'string' },
      size: { type: 'string' },
      'min-frames': { type: 'string' },
      'max-frames': { type: 'string' },
      detector: { type: 'string' },
      'dwpose-dir': { type: 'string' },
      'missing-face': { type: 'string' },
      ...Object.fromEntries(Object.keys(FILTER_FLAGS).map((k) => [k, { type: 'string' as const }])),
    },
  });
  if (positionals.length === 0 || !values.output) throw new Error(`usage: ${USAGE.split('\n')[0]}`);
  const v = values as Record<string, string | undefined>;
  const filters: Partial<DatasetFilters> = {};
  for (const [flag, key] of Object.entries(FILTER_FLAGS)) {
    const x = optional(flag, v[flag], false);
    if (x !== undefined) filters[key] = x;
  }
  const missingFace = values['missing-face'] ?? 'full';
  if (missingFace !== 'full' && missingFace !== 'empty') throw new Error(`--missing-face must be full or empty, got '${missingFace}'`);
  const detectorKind = values.detector as DetectorKind | undefined;
  if (detectorKind !== undefined && detectorKind !== 'dwpose' && detectorKind !== 'default') {
    throw new Error(`--detector must be dwpose or default, got '${detectorKind}'`);
  }
  const detector = await openPoseDetector({ detector: detectorKind, dwposeDir: values['dwpose-dir'], embedded: { redetectEvery: 5 } });
  const progress = progressReporter('dataset');
  try {
    const summary = await prepareDataset(positionals, values.output, {
      detector,
      fps: optional('fps', values.fps, false),
      size: values.size ? parseSize(values.size) : undefined,
      minFrames: optional('min-frames', values['min-frames'], true),
      maxFrames: optional('max-frames', values['max-frames'], true),
      missingFace,
      filters,
      onProgress: progress,
      onClip: (clip, skipped) => {
        if (skipped) console.error(`clip ${clip.id} (${clip.source}): already ${clip.status}, skipped`);
        else if (clip.status === 'error') console.error(`clip ${clip.id} (${clip.source}): error: ${clip.reasons[0]?.detail}`);
      },
    });
    progress.done();
    console.log(formatSummaryTable(summary));
    console.log(`wrote ${join(summary.root, 'summary.json')}, video_rec_path.txt and video_vec_path.txt`);
    return summary.errors > 0 ? 1 : 0;
  } finally {
    await detector.dispose();
  }
}

export const dataset: Command = {
  summary: 'prepare training data from raw videos: frames, poses, face masks, path lists, with the paper\'s filters',
  usage: USAGE,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'prepare') return prepare(rest);
    throw new Error(`unknown subcommand '${sub ?? ''}': use prepare\n\nusage: ${USAGE}`);
  },
};

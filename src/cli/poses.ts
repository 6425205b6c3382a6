// `stable-animator poses extract|render`: keypoints from photos and videos, and skeleton images from keypoints.

import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { renderPoseSequenceToFolder, renderPoseSequenceToVideo, writePoseImage } from '../pose/render.ts';
import { readPoseFile, writeKeypointJson } from '../pose/keypoint-json.ts';
import { extractPoses, openPoseDetector, type DetectorKind } from '../pose/extract.ts';
import { parseSize } from './args.ts';
import type { Command } from './main.ts';
import { progressReporter } from './progress.ts';
import { join } from 'node:path';

const USAGE = `stable-animator poses extract <image|video|dir> -o poses.json [--detector dwpose|default] [--dwpose-dir DIR]
                               [--render DIR] [--max-frames N] [--fps N] [--no-face] [--no-hands] [--redetect-every N]
  stable-animator poses render <poses.json> -o <dir|video.mp4|video.gif> [--size WxH] [--fps N]

  extract   detects every person's body (OpenPose-18), hands (2x21) and face (68) in each frame and writes our
            keypoint JSON. --detector dwpose runs DWPose (yolox_l.onnx + dw-ll_ucoco_384.onnx from --dwpose-dir);
            the default detector ships with the package and works offline. --render also draws the skeletons
            (frame_0.png, ...) as StableAnimator's pose images.
  render    draws a keypoint file (ours, or DWPose dicts as JSON, .npy or a folder of per-frame files: see
            docs/poses.md) as pose images at --size (default: its size).`;

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return v;
}

async function extract(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      detector: { type: 'string' },
      'dwpose-dir': { type: 'string' },
      render: { type: 'string' },
      'max-frames': { type: 'string' },
      fps: { type: 'string' },
      'no-face': { type: 'boolean' },
      'no-hands': { type: 'boolean' },
      'redetect-every': { type: 'string' },
    },
  });
  if (positionals.length !== 1 || !values.output) throw new Error(`usage: ${USAGE.split('\n')[0]}`);
  const detectorKind = values.detector as DetectorKind | undefined;
  if (detectorKind !== undefined && detectorKind !== 'dwpose' && detectorKind !== 'default') {
    throw new Error(`--detector must be dwpose or default, got '${detectorKind}'`);
  }
  const input = positionals[0];
  const detector = await openPoseDetector({
    detector: detectorKind,
    dwposeDir: values['dwpose-dir'],
    embedded: { face: !values['no-face'], hands: !values['no-hands'], redetectEvery: positiveInt('redetect-every', values['redetect-every']) ?? 5 },
  });
  const progress = progressReporter(`poses (${detector.name})`);
  try {
    const renderDir = values.render;
    const seq = await extractPoses(input, detector, {
      maxFrames: positiveInt('max-frames', values['max-frames']),
      fps: values.fps !== undefined ? Number(values.fps) : undefined,
      onProgress: progress,
      onFrame: renderDir ? (frame, i, image) => writePoseImage(join(renderDir, `frame_${i}.png`), frame, image.width, image.height) : undefined,
    });
    progress.done();
    await writeKeypointJson(values.output, seq);
    const persons = seq.frames.reduce((n, f) => n + f.persons.length, 0);
    const empty = seq.frames.filter((f) => f.persons.length === 0).length;
    console.log(`wrote ${values.output}: ${seq.frames.length} frame(s) ${seq.size[0]}x${seq.size[1]}, ${persons} person detection(s)` +
      (empty ? `, ${empty} frame(s) without a person` : '') + (renderDir ? `; skeletons in ${renderDir}` : ''));
    return 0;
  } finally {
    await detector.dispose();
  }
}

async function render(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { output: { type: 'string', short: 'o' }, size: { type: 'string' }, fps: { type: 'string' } },
  });
  if (positionals.length !== 1 || !values.output) throw new Error(`usage: ${USAGE.split('\n')[2].trim()}`);
  const seq = await readPoseFile(positionals[0]);
  const [width, height] = values.size ? parseSize(values.size) : seq.size;
  const progress = progressReporter('render');
  const ext = extname(values.output).toLowerCase();
  if (ext === '.mp4' || ext === '.gif') {
    await renderPoseSequenceToVideo(seq, values.output, { width, height, fps: values.fps ? Number(values.fps) : undefined, onProgress: progress });
  } else {
    await renderPoseSequenceToFolder(seq, values.output, { width, height, onProgress: progress });
  }
  progress.done();
  console.log(`rendered ${seq.frames.length} frame(s) at ${width}x${height} into ${values.output}`);
  return 0;
}

export const poses: Command = {
  summary: 'extract keypoints from photos/videos (DWPose or the embedded detector) and render pose images',
  usage: USAGE,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'extract') return extract(rest);
    if (sub === 'render') return render(rest);
    throw new Error(`unknown subcommand '${sub ?? ''}': use extract or render\n\nusage: ${USAGE}`);
  },
};

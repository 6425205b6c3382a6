// `stable-animator align eval`: the MisAlign protocol on held-out pose sequences, Dis for none, polyfit,
// svd-only and the learned block; prints the table and writes report/align.json and a PNG of the per-frame
// error distributions.

import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../io/atomic.ts';
import { plotHistograms, savePlot } from '../io/plot.ts';
import { evaluateMisAlign, MISALIGN_METHODS } from '../align/misalign-eval.ts';
import { DEFAULT_ALIGN_WEIGHTS, LearnedAlignment } from '../align/learned-alignment.ts';
import { readPoseFile } from '../pose/keypoint-json.ts';
import { loadMotionSequences } from '../pose/motion-data.ts';
import type { NamedSequence } from '../pose/motion-data.ts';
import { loadAlignmentData } from '../align/training-data.ts';
import { parseNumber } from './args.ts';
import type { Command } from './main.ts';

const USAGE = `stable-animator align eval [--data <pose files or folders>...] [--seed 0] [--weights DIR] -o report/
                        [--samples 32] [--clip 16] [--max-reference-gap N]

  The MisAlign protocol: from each sequence, --samples (reference frame, driven clip of --clip frames) pairs,
  each clip rotated (±30°), scaled (0.5-2x, log-uniform) and shifted (±0.25 of the frame) about the frame
  centre with --seed; then Dis, the mean distance between aligned and unperturbed body keypoints (normalised
  coordinates), for none, polyfit, svd and learned. --data takes keypoint JSON / DWPose JSON or .npy files, .bvh files
  (projected with the camera of the training data's split) and folders of both; without it, the sequences
  held out from training in ../shared/data/motion. Writes report/align.json, report/align-details.json and
  report/align-errors.png.`;

async function loadDataFiles(paths: readonly string[], cameraSeed: number): Promise<NamedSequence[]> {
  const out: NamedSequence[] = [];
  const bvhByDir = new Map<string, NamedSequence[]>();
  const bvh = async (file: string): Promise<NamedSequence> => {
    const dir = dirname(file);
    if (!bvhByDir.has(dir)) bvhByDir.set(dir, await loadMotionSequences({ bvhDir: dir, seed: cameraSeed }));
    const name = basename(file, '.bvh');
    const found = bvhByDir.get(dir)!.find((s) => s.name === name);
    if (!found) throw new Error(`${file}: not found`);
    return found;
  };
  const one = async (file: string): Promise<void> => {
    const ext = extname(file).toLowerCase();
    if (ext === '.bvh') out.push(await bvh(file));
    else if (ext === '.json' || ext === '.npy') out.push({ name: basename(file, ext), source: 'dwpose', sequence: await readPoseFile(file) });
    else throw new Error(`${file}: expected a .json or .npy pose file, a .bvh file or a folder`);
  };
  for (const path of paths) {
    if ((await stat(path)).isDirectory()) {
      const files = (await readdir(path)).filter((f) => /\.(json|npy|bvh)$/i.test(f)).sort();
      if (files.length === 0) throw new Error(`${path}: no .json, .npy or .bvh files`);
      for (const f of files) await one(join(path, f));
    } else {
      await one(path);
    }
  }
  return out;
}

export const alignEval: Command = {
  summary: 'MisAlign evaluation of pose alignment: Dis for none, polyfit, svd and learned',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        data: { type: 'string', multiple: true },
        seed: { type: 'string', default: '0' },
        weights: { type: 'string' },
        output: { type: 'string', short: 'o' },
        samples: { type: 'string', default: '32' },
        clip: { type: 'string', default: '16' },
        'max-reference-gap': { type: 'string' },
        'camera-seed': { type: 'string', default: '0' },
      },
    });
    if (!values.output) throw new Error(`-o report/ is required\nusage: ${USAGE}`);
    const int = (name: string, text: string) => parseNumber(name, text, 'count');
    const seed = int('seed', values.seed!);
    const files = [...(values.data ?? []), ...positionals];
    const sequences = files.length > 0
      ? await loadDataFiles(files, int('camera-seed', values['camera-seed']!))
      : (await loadAlignmentData({ bvhCameras: 1, mirror: false })).val;
    if (sequences.length === 0) throw new Error('no sequences to evaluate');
    const model = LearnedAlignment.fromPretrained(values.weights ?? DEFAULT_ALIGN_WEIGHTS);
    const t0 = performance.now();
    const result = evaluateMisAlign(sequences, {
      seed,
      model,
      samplesPerSequence: Math.max(1, int('samples', values.samples!)),
      clipLength: Math.max(1, int('clip', values.clip!)),
      maxReferenceGap: values['max-reference-gap'] !== undefined ? int('max-reference-gap', values['max-reference-gap']) : undefined,
    });
    const seconds = (performance.now() - t0) / 1000;

    const row = (label: string, dis: Partial<Record<string, number>>) =>
      `${label.padEnd(22)}${MISALIGN_METHODS.map((m) => (dis[m] ?? NaN).toFixed(4).padStart(10)).join('')}`;
    console.log(`MisAlign (seed ${seed}): ${result.clips} clips, ${result.frames} frames from ${result.sequences.join(', ')} (${seconds.toFixed(1)} s)`);
    console.log(`${'Dis'.padEnd(22)}${MISALIGN_METHODS.map((m) => m.padStart(10)).join('')}`);
    console.log(row('all', result.dis));
    for (const [source, dis] of Object.entries(result.bySource).sort()) console.log(row(`  ${source}`, dis));

    const report = { none: result.dis.none!, polyfit: result.dis.polyfit!, svd: result.dis.svd!, learned: result.dis.learned!, frames: result.frames };
    await writeFileAtomic(join(values.output, 'align.json'), `${JSON.stringify(report)}\n`);
    await writeFileAtomic(join(values.output, 'align-details.json'), `${JSON.stringify({
      ...report, seed, clips: result.clips, sequences: result.sequences, by_source: result.bySource,
      weights: values.weights ?? DEFAULT_ALIGN_WEIGHTS,
    }, null, 2)}\n`);
    const image = plotHistograms(
      MISALIGN_METHODS.map((m) => ({ label: `${m} (Dis ${result.dis[m]!.toFixed(3)})`, values: result.perFrame[m]! })),
      { title: 'MisAlign: per-frame Dis', xLabel: 'mean keypoint distance per frame (normalised)', bins: 50 },
    );
    await savePlot(join(values.output, 'align-errors.png'), image);
    console.log(`wrote ${join(values.output, 'align.json')}, align-details.json, align-errors.png`);
    return 0;
  },
};

// `stable-animator poses align`: aligns a driving pose sequence to a reference pose (the first frame of --ref)
// before any animation model, by the learnable block, the closed-form SVD fit, the polyfit rule, or not at all.

import { parseArgs } from 'node:util';
import { ALIGN_METHODS, alignPoseFrames, isAlignMethod } from '../align/align-frames.ts';
import { DEFAULT_ALIGN_WEIGHTS, LearnedAlignment } from '../align/learned-alignment.ts';
import { readPoseFile, writeKeypointJson } from '../pose/keypoint-json.ts';
import type { PoseSequence } from '../pose/keypoints.ts';
import { renderPoseSequenceToFolder } from '../pose/render.ts';
import type { Command } from './main.ts';

const USAGE = `stable-animator poses align --ref ref.json --driving driving.json -o aligned.json
                             [--method learned|svd|polyfit|none] [--weights DIR] [--render DIR]

  Aligns every person of every driving frame to the reference pose (the first frame of --ref): the driving
  skeletons are rotated, scaled and moved onto the reference's body size and position. Both files may be
  our keypoint JSON or DWPose JSON dumps. The output is normalised to the reference frame's size.
    --method   learned (default: the learnable SVD-guided block, weights from --weights, default the shipped
               ${'weights/align'}), svd (closed-form similarity per frame), polyfit (StableAnimator's rule), none
    --render   also draw the aligned skeletons as frame_0.png, ... at the reference's size`;

export const posesAlign: Command = {
  summary: 'align a driving pose sequence to a reference pose (learned | svd | polyfit | none)',
  usage: USAGE,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        ref: { type: 'string' },
        driving: { type: 'string' },
        output: { type: 'string', short: 'o' },
        method: { type: 'string', default: 'learned' },
        weights: { type: 'string' },
        render: { type: 'string' },
      },
    });
    if (!values.ref || !values.driving || !values.output) throw new Error(`--ref, --driving and -o are required\nusage: ${USAGE}`);
    const method = values.method!;
    if (!isAlignMethod(method)) throw new Error(`--method must be one of ${ALIGN_METHODS.join(', ')}, got '${method}'`);
    const ref = await readPoseFile(values.ref);
    const driving = await readPoseFile(values.driving);
    if (ref.frames.length === 0) throw new Error(`${values.ref}: the reference file has no frames`);
    if (driving.frames.length === 0) throw new Error(`${values.driving}: the driving sequence has no frames`);
    const model = method === 'learned' ? LearnedAlignment.fromPretrained(values.weights ?? DEFAULT_ALIGN_WEIGHTS) : undefined;
    const t0 = performance.now();
    const { frames } = alignPoseFrames(ref.frames[0]!, driving.frames, { method, model, refSize: ref.size, drivenSize: driving.size });
    const out: PoseSequence = { size: ref.size, ...(driving.fps !== undefined ? { fps: driving.fps } : {}), frames };
    await writeKeypointJson(values.output, out);
    const persons = frames.reduce((n, f) => n + f.persons.length, 0);
    console.log(`aligned ${frames.length} frame(s), ${persons} person(s) with '${method}' in ${((performance.now() - t0) / 1000).toFixed(2)} s -> ${values.output}`);
    if (values.render) {
      await renderPoseSequenceToFolder(out, values.render);
      console.log(`rendered ${frames.length} skeleton image(s) ${ref.size[0]}x${ref.size[1]} -> ${values.render}`);
    }
    return 0;
  },
};

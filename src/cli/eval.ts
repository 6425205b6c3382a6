// `stable-animator eval`: quality metrics of a generated video against its ground truth.

import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../io/atomic.ts';
import { evaluateVideo } from '../eval/evaluate.ts';
import { openPoseDetector, type DetectorKind } from '../pose/extract.ts';
import { num } from './align-train.ts';
import type { Command } from './main.ts';
import { progressReporter } from './progress.ts';

const USAGE = `stable-animator eval --pred <video|dir> --gt <video|dir> -o metrics.json [--ref photo] [--arcface glintr100_torch.pth|glintr100.onnx]
                      [--lpips alex.pth [--lpips-backbone alexnet.pth]] [--detector dwpose|default] [--dwpose-dir DIR]
                      [--no-csim] [--no-pose] [--max-frames N]

  L1, PSNR, PSNR* (DisCo: per-frame PSNR, averaged), SSIM (scikit-image's default), LPIPS (when --lpips gives the
  lpips package's lin weights; the torchvision backbone from --lpips-backbone unless the file holds it), CSIM
  (identity cosine between each generated frame's face and --ref's, or the ground-truth frame's without --ref;
  ArcFace from --arcface, else the embedded face embedder, noted in the output) and the pose distance between
  keypoints detected in the generated and ground-truth frames. Prediction frames of another size are resized to
  the ground truth's. FVD: the I3D feature extractor is not implemented (the Frechet distance on features is,
  src/eval/frechet.ts); --fvd is refused. See docs/eval.md.`;

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: false,
    options: {
      pred: { type: 'string' },
      gt: { type: 'string' },
      output: { type: 'string', short: 'o' },
      ref: { type: 'string' },
      arcface: { type: 'string' },
      lpips: { type: 'string' },
      'lpips-backbone': { type: 'string' },
      fvd: { type: 'string' },
      detector: { type: 'string' },
      'dwpose-dir': { type: 'string' },
      'no-csim': { type: 'boolean' },
      'no-pose': { type: 'boolean' },
      'max-frames': { type: 'string' },
    },
  });
  if (positionals.length > 0 || !values.pred || !values.gt || !values.output) throw new Error(`usage: ${USAGE.split('\n')[0]}`);
  if (values.fvd) {
    throw new Error('--fvd: the I3D feature extractor that FVD needs is not implemented yet (the Frechet distance itself is, in src/eval/frechet.ts)');
  }
  if (values['lpips-backbone'] && !values.lpips) throw new Error('--lpips-backbone needs --lpips (the lin weights)');
  const maxFrames = values['max-frames'] === undefined ? undefined : num('max-frames', values['max-frames'], true);
  const detectorKind = values.detector as DetectorKind | undefined;
  if (detectorKind !== undefined && detectorKind !== 'dwpose' && detectorKind !== 'default') {
    throw new Error(`--detector must be dwpose or default, got '${detectorKind}'`);
  }
  const detector = values['no-pose'] ? undefined : await openPoseDetector({ detector: detectorKind, dwposeDir: values['dwpose-dir'], embedded: { redetectEvery: 1 } });
  const progress = progressReporter('eval');
  try {
    const metrics = await evaluateVideo(values.pred, values.gt, {
      ref: values.ref,
      arcface: values.arcface,
      lpips: values.lpips ? { lin: values.lpips, backbone: values['lpips-backbone'] } : undefined,
      poseDetector: detector,
      noCsim: values['no-csim'],
      maxFrames,
      onProgress: progress,
    });
    progress.done();
    await writeFileAtomic(values.output, JSON.stringify(metrics, null, 1) + '\n');
    const fmt = (v: number | undefined, d = 4) => (v === undefined ? '-' : Number.isFinite(v) ? v.toFixed(d) : 'n/a');
    console.log(`${metrics.frames} frame(s) ${metrics.size[0]}x${metrics.size[1]}: L1 ${fmt(metrics.l1, 5)}  PSNR ${fmt(metrics.psnr, 2)}  PSNR* ${fmt(metrics.psnrStar, 2)}  ` +
      `SSIM ${fmt(metrics.ssim)}  LPIPS ${fmt(metrics.lpips?.value)}  CSIM ${fmt(metrics.csim?.value)}  pose dist ${fmt(metrics.poseDistance?.value)}`);
    for (const note of metrics.notes) console.log(`note: ${note}`);
    console.log(`wrote ${values.output}`);
    return 0;
  } finally {
    await detector?.dispose();
  }
}

export const evalCommand: Command = {
  summary: 'metrics of a generated video against its ground truth: L1, PSNR, PSNR*, SSIM, LPIPS, CSIM, pose distance',
  usage: USAGE,
  run,
};

// `stable-animator eval`: quality metrics of a generated video against its ground truth.

import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../io/atomic.ts';
import { evaluateVideo } from '../eval/evaluate.ts';
import { openPoseDetector, type DetectorKind } from '../pose/extract.ts';
import { num } from './args.ts';
import type { Command } from './main.ts';
import { progressReporter } from './progress.ts';

const USAGE = `stable-animator eval --pred <video|dir> --gt <video|dir> -o metrics.json [--ref photo] [--arcface glintr100_torch.pth|glintr100.onnx]
                      [--lpips alex.pth [--lpips-backbone alexnet.pth]] [--detector dwpose|default] [--dwpose-dir DIR]
                      [--fvd i3d.pt [--fvd-layer logits|pool] [--fvd-stride N] [--fvd-bn-eps E]]
                      [--no-csim] [--no-pose] [--max-frames N]

  L1, PSNR, PSNR* (DisCo: per-frame PSNR, averaged), SSIM (scikit-image's default), LPIPS (when --lpips gives the
  lpips package's lin weights; the torchvision backbone from --lpips-backbone unless the file holds it), CSIM
  (identity cosine between each generated frame's face and --ref's, or the ground-truth frame's without --ref;
  ArcFace from --arcface, else the embedded face embedder, noted in the output) and the pose distance between
  keypoints detected in the generated and ground-truth frames. Prediction frames of another size are resized to
  the ground truth's. FVD (--fvd: pytorch-i3d InceptionI3d weights, rgb_imagenet.pt or VideoGPT's
  i3d_pretrained_400.pt, .pt/.pth/.safetensors): Frechet distance of I3D embeddings (--fvd-layer: the 400
  logits, default, or the 1024 pooled features) of the 16-frame clips starting every --fvd-stride frames
  (default 16), frames resized to 224x224 and scaled to [-1, 1]; --fvd-bn-eps sets the BatchNorm epsilon
  (pytorch-i3d 1e-3, default; VideoGPT's copy 1e-5). On one video pair it compares that video's few clips
  only: not comparable with papers' FVD. See docs/eval.md.`;

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
      'fvd-layer': { type: 'string' },
      'fvd-stride': { type: 'string' },
      'fvd-bn-eps': { type: 'string' },
      detector: { type: 'string' },
      'dwpose-dir': { type: 'string' },
      'no-csim': { type: 'boolean' },
      'no-pose': { type: 'boolean' },
      'max-frames': { type: 'string' },
    },
  });
  if (positionals.length > 0 || !values.pred || !values.gt || !values.output) throw new Error(`usage: ${USAGE.split('\n')[0]}`);
  const fvdLayer = values['fvd-layer'];
  if (fvdLayer !== undefined && fvdLayer !== 'logits' && fvdLayer !== 'pool') throw new Error(`--fvd-layer must be logits or pool, got '${fvdLayer}'`);
  if (!values.fvd && (fvdLayer || values['fvd-stride'] || values['fvd-bn-eps'])) throw new Error('--fvd-layer, --fvd-stride and --fvd-bn-eps need --fvd (the I3D weights)');
  const fvd = values.fvd ? {
    weights: values.fvd,
    layer: fvdLayer as 'logits' | 'pool' | undefined,
    stride: values['fvd-stride'] === undefined ? undefined : num('fvd-stride', values['fvd-stride'], true),
    bnEps: values['fvd-bn-eps'] === undefined ? undefined : num('fvd-bn-eps', values['fvd-bn-eps'], false),
  } : undefined;
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
      fvd,
      poseDetector: detector,
      noCsim: values['no-csim'],
      maxFrames,
      onProgress: progress,
    });
    progress.done();
    await writeFileAtomic(values.output, JSON.stringify(metrics, null, 1) + '\n');
    const fmt = (v: number | undefined, d = 4) => (v === undefined ? '-' : Number.isFinite(v) ? v.toFixed(d) : 'n/a');
    console.log(`${metrics.frames} frame(s) ${metrics.size[0]}x${metrics.size[1]}: L1 ${fmt(metrics.l1, 5)}  PSNR ${fmt(metrics.psnr, 2)}  PSNR* ${fmt(metrics.psnrStar, 2)}  ` +
      `SSIM ${fmt(metrics.ssim)}  LPIPS ${fmt(metrics.lpips?.value)}  CSIM ${fmt(metrics.csim?.value)}  pose dist ${fmt(metrics.poseDistance?.value)}` +
      (metrics.fvd ? `  FVD ${fmt(metrics.fvd.value, 3)} (${metrics.fvd.clips} clips)` : ''));
    if (metrics.baseline) {
      const b = metrics.baseline;
      console.log(`moving region (${fmt((metrics.movingFraction ?? 0) * 100, 1)}% of the pixels): PSNR ${fmt(metrics.movingPsnr, 2)}; ` +
        `repeating the reference: L1 ${fmt(b.l1, 5)}  PSNR ${fmt(b.psnr, 2)}  SSIM ${fmt(b.ssim)}  moving PSNR ${fmt(b.movingPsnr, 2)}`);
    }
    for (const note of metrics.notes) console.log(`note: ${note}`);
    console.log(`wrote ${values.output}`);
    return 0;
  } finally {
    await detector?.dispose();
  }
}

export const evalCommand: Command = {
  summary: 'metrics of a generated video against its ground truth: L1, PSNR, PSNR*, SSIM, LPIPS, CSIM, pose distance, FVD',
  usage: USAGE,
  run,
};

// Stage 2 of the miniature recipe: the image encoder that stands in for CLIP. In StableAnimator the CLIP
// embedding of the reference carries its appearance (clothes, colours, background) to every frame, whatever
// the pose. Here a small CLIP vision transformer learns that directly: two frames of the same clip (same person,
// same background, different pose) are a positive pair, the other clips of the batch the negatives (symmetric
// InfoNCE on cosine similarities, temperature tau). Images go through the same preprocessing as the pipeline's
// (clipPreprocess at the encoder's size). Written as a transformers folder (config.json + model.safetensors).
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import { CLIPVisionModelWithProjection } from '../models/svd/clip-vision.ts';
import { clipPreprocess } from '../models/svd/image-preprocess.ts';
import { savePretrained } from '../models/svd/pretrained.ts';
import { imageToTensor } from '../pipeline/inputs.ts';
import { runTrainingLoop, warmupCosine, type TrainingLoopResult } from '../nn/optim/training-loop.ts';
import { clipBatches } from './clip-batches.ts';
import { MINI_IMAGE_ENCODER_CONFIG, MINI_SIZE } from './configs.ts';

export interface MiniImageEncoderOptions {
  data: string;
  outDir: string;
  steps: number;
  config?: Partial<typeof MINI_IMAGE_ENCODER_CONFIG>;
  size?: number;
  clipsPerStep?: number;
  lr?: number;
  temperature?: number;
  seed?: number;
  checkpointEvery?: number;
  resume?: boolean;
  stopAfter?: number;
  log?: (line: string) => void;
}

/** Symmetric InfoNCE: row i of a matches row i of b; a, b [N, D] (normalised inside). */
export function infoNce(a: Tensor, b: Tensor, temperature: number): Tensor {
  return torch.scope(() => {
    const an = a.div(a.norm(2, [-1], true).clampMin(1e-8));
    const bn = b.div(b.norm(2, [-1], true).clampMin(1e-8));
    const logits = torch.matmul(an, bn.transpose(0, 1)).div(temperature);
    const target = torch.arange(0, a.size(0), 1, 'i64');
    return torch.crossEntropy(logits, target).add(torch.crossEntropy(logits.transpose(0, 1), target)).div(2);
  });
}

export async function trainMiniImageEncoder(o: MiniImageEncoderOptions): Promise<TrainingLoopResult & { encoder: CLIPVisionModelWithProjection }> {
  const size = o.size ?? MINI_SIZE;
  const config = { ...MINI_IMAGE_ENCODER_CONFIG, ...o.config };
  const settings = { config, size, steps: o.steps, clipsPerStep: o.clipsPerStep ?? 16, lr: o.lr ?? 5e-4, temperature: o.temperature ?? 0.1, seed: o.seed ?? 0 };
  const encoder = nn.withInit({ seed: settings.seed }, () => CLIPVisionModelWithProjection.fromConfig(config));
  // one sampled frame per clip plus the reference frame (outside the sampled ones): the positive pair
  const data = await clipBatches(o.data, {
    bucket: { name: 'rec', width: size, height: size }, clipsPerStep: settings.clipsPerStep, numFrames: 1, stride: 1, seed: settings.seed, log: o.log,
  });
  o.log?.(`image encoder: ${encoder.numParameters()} parameters, ${data.clips} clips, ${settings.clipsPerStep} pairs per step`);
  const params = encoder.parameters();
  const optimizer = new nn.AdamW(params, { lr: settings.lr, weightDecay: 0.05 });
  const embed = (images: Tensor) => encoder.forward(clipPreprocess(images, { size: encoder.config.image_size })).imageEmbeds;
  const loop = await runTrainingLoop({
    name: 'mini-image-encoder', outDir: o.outDir, weights: encoder, params, optimizer, steps: o.steps, settings,
    lr: warmupCosine(settings.lr, o.steps),
    maxGradNorm: 1, checkpointEvery: o.checkpointEvery, resume: o.resume, stopAfter: o.stopAfter, log: o.log,
    lossAt: async (step) => {
      const samples = await data.batch(step);
      return torch.scope(() => {
        const frames = torch.cat(samples.map((s) => imageToTensor(s.images[0]!)), 0);
        const refs = torch.cat(samples.map((s) => imageToTensor(s.referenceImage)), 0);
        const loss = infoNce(embed(frames), embed(refs), settings.temperature);
        loss.backward();
        return loss.item();
      });
    },
  });
  if (loop.finished) {
    savePretrained(o.outDir, 'CLIPVisionModelWithProjection', config, encoder, 'model.safetensors');
    o.log?.(`image encoder: wrote ${o.outDir}`);
  }
  return { ...loop, encoder };
}

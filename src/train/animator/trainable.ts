// Which weights train. The reference (`train.py`) trains all of PoseNet and the Face Encoder, and every UNet
// parameter whose name contains "attentions" (spatial and temporal transformer blocks with their norms,
// proj_in/out, time mixers and the ID-Adapters' id_to_k/id_to_v); ResNets, conv_in, time embeddings, the VAE
// and CLIP stay frozen. Names are prefixed with the model: pose_net., face_encoder., unet.
import type { Tensor } from '../../torch/index.ts';
import type { Module } from '../../nn/index.ts';
import type { TrainModels } from './denoising-loss.ts';

export interface TrainableSpec {
  poseNet: boolean;
  faceEncoder: boolean;
  /**
   * UNet parameters: 'attentions' (the reference), 'all', 'none', or a list of substrings (a parameter trains
   * when its name contains one of them).
   */
  unet: 'attentions' | 'all' | 'none' | string[];
}

export const REFERENCE_TRAINABLE: TrainableSpec = { poseNet: true, faceEncoder: true, unet: 'attentions' };

export const TRAINABLE_PREFIX = { poseNet: 'pose_net.', faceEncoder: 'face_encoder.', unet: 'unet.' } as const;

function unetSelects(spec: TrainableSpec['unet'], name: string): boolean {
  if (spec === 'all') return true;
  if (spec === 'none') return false;
  const parts = spec === 'attentions' ? ['attentions'] : spec;
  return parts.some((p) => name.includes(p));
}

/**
 * Sets requires_grad on every weight of the five models (only the selected ones true) and returns the
 * selected ones by prefixed name, in a fixed order (PoseNet, Face Encoder, UNet, each in state-dict order).
 */
export function selectTrainable(models: TrainModels, spec: TrainableSpec): [string, Tensor][] {
  models.vae.requiresGrad_(false);
  models.imageEncoder.requiresGrad_(false);
  const out: [string, Tensor][] = [];
  const pick = (prefix: string, module: Module, selects: (name: string) => boolean) => {
    for (const [name, p] of module.namedParameters()) {
      const on = selects(name);
      p.requiresGrad_(on);
      if (on) out.push([prefix + name, p]);
    }
  };
  pick(TRAINABLE_PREFIX.poseNet, models.poseNet, () => spec.poseNet);
  pick(TRAINABLE_PREFIX.faceEncoder, models.faceEncoder, () => spec.faceEncoder);
  pick(TRAINABLE_PREFIX.unet, models.unet, (n) => unetSelects(spec.unet, n));
  if (out.length === 0) throw new Error(`trainable ${JSON.stringify(spec)}: selects no parameter`);
  return out;
}

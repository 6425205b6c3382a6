// The two layer calls every spatio-temporal UNet block makes, each optionally checkpointed.
import type { Tensor } from '../../torch/index.ts';
import { checkpointed } from './checkpointing.ts';
import type { FrameLayout, SpatioTemporalResBlock } from './spatio-temporal-res-block.ts';
import type { TransformerSpatioTemporalModel } from './transformer-spatio-temporal.ts';

export function resnetStep(checkpoint: boolean, resnet: SpatioTemporalResBlock, x: Tensor, temb: Tensor | undefined, frames: FrameLayout): Tensor {
  return checkpointed(checkpoint, resnet,
    ([h, t, ind]) => resnet.forward(h!, t, { numFrames: frames.numFrames, imageOnlyIndicator: ind }),
    [x, temb, frames.imageOnlyIndicator]);
}

export function transformerStep(checkpoint: boolean, attn: TransformerSpatioTemporalModel, x: Tensor, encoderHiddenStates: Tensor, frames: FrameLayout): Tensor {
  return checkpointed(checkpoint, attn,
    ([h, e, ind]) => attn.forward(h!, e!, { numFrames: frames.numFrames, imageOnlyIndicator: ind }),
    [x, encoderHiddenStates, frames.imageOnlyIndicator]);
}

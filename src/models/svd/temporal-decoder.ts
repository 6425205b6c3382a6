// diffusers' `TemporalDecoder` (SVD's VAE decoder): conv_in, a spatio-temporal mid block with
// attention, spatio-temporal up blocks, GroupNorm + SiLU + conv_out per frame, then time_conv_out,
// a 3-D conv with kernel (3,1,1) across the frames of each video.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { decoderStep, MidBlockTemporalDecoder, UpBlockTemporalDecoder } from './decoder-blocks.ts';
import type { FrameLayout } from './spatio-temporal-res-block.ts';

/** diffusers' `TemporalDecoder` constructor arguments, by their names. */
export interface TemporalDecoderConfig {
  in_channels: number;
  out_channels: number;
  block_out_channels: number[];
  layers_per_block: number;
  /** 32 in diffusers (not an argument there); see AutoencoderTemporalConfig.norm_num_groups. */
  norm_num_groups?: number;
}

export class TemporalDecoder extends nn.Module {
  conv_in: nn.Conv2d;
  mid_block: MidBlockTemporalDecoder;
  up_blocks: nn.ModuleList<UpBlockTemporalDecoder>;
  conv_norm_out: nn.GroupNorm;
  conv_act: nn.SiLU;
  conv_out: nn.Conv2d;
  time_conv_out: nn.Conv3d;
  /** Checkpoint the mid block and each up block while a graph is recorded (StableAnimator's HJB decode). */
  gradientCheckpointing = false;

  constructor(c: TemporalDecoderConfig) {
    super();
    const boc = c.block_out_channels;
    const last = boc[boc.length - 1];
    this.conv_in = new nn.Conv2d(c.in_channels, last, 3, { padding: 1 });
    const groups = c.norm_num_groups ?? 32;
    this.mid_block = new MidBlockTemporalDecoder(last, last, { numLayers: c.layers_per_block, attentionHeadDim: last, groups });
    const rev = [...boc].reverse();
    this.up_blocks = new nn.ModuleList(rev.map((out, i) => new UpBlockTemporalDecoder(i === 0 ? rev[0] : rev[i - 1], out, {
      numLayers: c.layers_per_block + 1, addUpsample: i < boc.length - 1, groups,
    })));
    this.conv_norm_out = new nn.GroupNorm(groups, boc[0], 1e-6);
    this.conv_act = new nn.SiLU();
    this.conv_out = new nn.Conv2d(boc[0], c.out_channels, 3, { padding: 1 });
    this.time_conv_out = new nn.Conv3d(c.out_channels, c.out_channels, [3, 1, 1], { padding: [1, 0, 0] });
  }

  /** z [B·F, latent, h, w] (frames of a video consecutive) -> [B·F, out, H, W]. */
  forward(z: Tensor, frames: FrameLayout): Tensor {
    return torch.scope(() => {
      const ckpt = this.gradientCheckpointing;
      let h = this.conv_in.forward(z);
      h = decoderStep(ckpt, this.mid_block, h, frames);
      // the up blocks run in their own parameter dtype (diffusers' upscale_dtype)
      const upDtype = this.up_blocks.at(0).parameters()[0]?.dtype ?? h.dtype;
      if (h.dtype !== upDtype) h = h.to(upDtype);
      for (const block of this.up_blocks) h = decoderStep(ckpt, block, h, frames);
      h = this.conv_out.forward(this.conv_norm_out.forward(h).silu());
      const [bf, c, height, width] = h.shape;
      const b = bf / frames.numFrames;
      const video = h.view([b, frames.numFrames, c, height, width]).transpose(1, 2);
      return this.time_conv_out.forward(video).transpose(1, 2).reshape([bf, c, height, width]);
    });
  }
}

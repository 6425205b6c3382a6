// diffusers' VAE `Encoder`: conv_in, DownEncoderBlock2D per level, UNetMidBlock2D with attention,
// GroupNorm + SiLU, conv_out to 2·latent channels (mean and log-variance).
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { DownEncoderBlock2D, UNetMidBlock2D } from './encoder-blocks.ts';

/** diffusers' `Encoder` constructor arguments, by their names. */
export interface EncoderConfig {
  in_channels: number;
  out_channels: number;
  down_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number;
  norm_num_groups?: number;
  double_z?: boolean;
  mid_block_add_attention?: boolean;
}

export class Encoder extends nn.Module {
  conv_in: nn.Conv2d;
  down_blocks: nn.ModuleList<DownEncoderBlock2D>;
  mid_block: UNetMidBlock2D;
  conv_norm_out: nn.GroupNorm;
  conv_act: nn.SiLU;
  conv_out: nn.Conv2d;

  constructor(c: EncoderConfig) {
    super();
    const boc = c.block_out_channels;
    const groups = c.norm_num_groups ?? 32;
    this.conv_in = new nn.Conv2d(c.in_channels, boc[0], 3, { padding: 1 });
    this.down_blocks = new nn.ModuleList(c.down_block_types.map((type, i) => {
      if (type !== 'DownEncoderBlock2D') throw new Error(`VAE encoder: unsupported down block type '${type}'`);
      return new DownEncoderBlock2D(i === 0 ? boc[0] : boc[i - 1], boc[i], {
        numLayers: c.layers_per_block, addDownsample: i < boc.length - 1, eps: 1e-6, groups,
      });
    }));
    const last = boc[boc.length - 1];
    this.mid_block = new UNetMidBlock2D(last, { eps: 1e-6, groups, attentionHeadDim: last, addAttention: c.mid_block_add_attention ?? true });
    this.conv_norm_out = new nn.GroupNorm(groups, last, 1e-6);
    this.conv_act = new nn.SiLU();
    this.conv_out = new nn.Conv2d(last, (c.double_z ?? true) ? 2 * c.out_channels : c.out_channels, 3, { padding: 1 });
  }

  /** x [N, in, H, W] -> [N, 2·latent, H/2^(levels−1), W/2^(levels−1)]. */
  forward(x: Tensor): Tensor {
    return torch.scope(() => {
      let h = this.conv_in.forward(x);
      for (const block of this.down_blocks) h = block.forward(h);
      h = this.mid_block.forward(h);
      return this.conv_out.forward(this.conv_norm_out.forward(h).silu());
    });
  }
}

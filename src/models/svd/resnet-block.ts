// diffusers' `ResnetBlock2D` (default time_embedding_norm, pre-norm, output_scale_factor 1):
// GroupNorm -> SiLU -> conv1 (+ time_emb_proj(SiLU(temb)) per channel) -> GroupNorm -> SiLU -> conv2,
// plus the input (through a 1×1 conv_shortcut when the channel count changes).
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { consume } from './residual.ts';

export interface ResnetBlock2DOptions {
  /** Width of the time embedding; no time_emb_proj when undefined (VAE). */
  tembChannels?: number;
  eps?: number;
  groups?: number;
  dropout?: number;
}

export class ResnetBlock2D extends nn.Module {
  norm1: nn.GroupNorm;
  conv1: nn.Conv2d;
  time_emb_proj?: nn.Linear;
  norm2: nn.GroupNorm;
  dropout: nn.Dropout;
  conv2: nn.Conv2d;
  conv_shortcut?: nn.Conv2d;

  constructor(readonly inChannels: number, readonly outChannels: number, opts: ResnetBlock2DOptions = {}) {
    super();
    const eps = opts.eps ?? 1e-6;
    const groups = opts.groups ?? 32;
    this.norm1 = new nn.GroupNorm(groups, inChannels, eps);
    this.conv1 = new nn.Conv2d(inChannels, outChannels, 3, { padding: 1 });
    if (opts.tembChannels !== undefined) this.time_emb_proj = new nn.Linear(opts.tembChannels, outChannels);
    this.norm2 = new nn.GroupNorm(groups, outChannels, eps);
    this.dropout = new nn.Dropout(opts.dropout ?? 0);
    this.conv2 = new nn.Conv2d(outChannels, outChannels, 3, { padding: 1 });
    if (inChannels !== outChannels) this.conv_shortcut = new nn.Conv2d(inChannels, outChannels, 1);
  }

  /** x [N, C, H, W], temb [N, tembChannels] -> [N, outChannels, H, W]. */
  forward(x: Tensor, temb?: Tensor): Tensor {
    return torch.scope(() => {
      let h = this.norm1.forward(x);
      h = consume(h, (t) => t.silu());
      h = consume(h, (t) => this.conv1.forward(t));
      if (this.time_emb_proj && temb) {
        const proj = this.time_emb_proj;
        h = consume(h, (t) => t.add(proj.forward(temb.silu()).unsqueeze(-1).unsqueeze(-1)));
      }
      h = consume(h, (t) => this.norm2.forward(t));
      h = consume(h, (t) => t.silu());
      h = consume(h, (t) => this.dropout.forward(t));
      h = consume(h, (t) => this.conv2.forward(t));
      const shortcut = this.conv_shortcut ? this.conv_shortcut.forward(x) : x;
      return shortcut.add(h);
    });
  }
}

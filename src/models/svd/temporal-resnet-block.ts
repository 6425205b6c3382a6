// diffusers' `TemporalResnetBlock`: the ResnetBlock2D pattern with 3-D convolutions of kernel (3,1,1),
// mixing only neighbouring frames. Input [B, C, F, H, W]; temb [B, F, tembChannels].
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { consume } from './residual.ts';

const KERNEL = [3, 1, 1];
const PADDING = [1, 0, 0];

export class TemporalResnetBlock extends nn.Module {
  norm1: nn.GroupNorm;
  conv1: nn.Conv3d;
  time_emb_proj?: nn.Linear;
  norm2: nn.GroupNorm;
  dropout: nn.Dropout;
  conv2: nn.Conv3d;
  conv_shortcut?: nn.Conv3d;

  constructor(readonly inChannels: number, readonly outChannels: number, tembChannels: number | undefined, eps = 1e-6, groups = 32) {
    super();
    this.norm1 = new nn.GroupNorm(groups, inChannels, eps);
    this.conv1 = new nn.Conv3d(inChannels, outChannels, KERNEL, { padding: PADDING });
    if (tembChannels !== undefined) this.time_emb_proj = new nn.Linear(tembChannels, outChannels);
    this.norm2 = new nn.GroupNorm(groups, outChannels, eps);
    this.dropout = new nn.Dropout(0);
    this.conv2 = new nn.Conv3d(outChannels, outChannels, KERNEL, { padding: PADDING });
    if (inChannels !== outChannels) this.conv_shortcut = new nn.Conv3d(inChannels, outChannels, 1);
  }

  forward(x: Tensor, temb?: Tensor): Tensor {
    return torch.scope(() => {
      let h = this.norm1.forward(x);
      h = consume(h, (t) => t.silu());
      h = consume(h, (t) => this.conv1.forward(t));
      if (this.time_emb_proj && temb) {
        const proj = this.time_emb_proj;
        // [B, F, C] -> [B, C, F, 1, 1]
        h = consume(h, (t) => t.add(proj.forward(temb.silu()).transpose(1, 2).unsqueeze(-1).unsqueeze(-1)));
      }
      h = consume(h, (t) => this.norm2.forward(t));
      h = consume(h, (t) => t.silu());
      h = consume(h, (t) => this.dropout.forward(t));
      h = consume(h, (t) => this.conv2.forward(t));
      // h first: the sum keeps h's contiguous layout when x is a permuted view
      return this.conv_shortcut ? this.conv_shortcut.forward(x).add(h) : h.add(x);
    });
  }
}

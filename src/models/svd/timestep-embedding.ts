// `TimestepEmbedding`: the MLP (linear_1 -> SiLU -> linear_2) applied to a sinusoidal embedding.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';

export class TimestepEmbedding extends nn.Module {
  linear_1: nn.Linear;
  act = new nn.SiLU();
  linear_2: nn.Linear;

  constructor(inChannels: number, timeEmbedDim: number, outDim?: number) {
    super();
    this.linear_1 = new nn.Linear(inChannels, timeEmbedDim);
    this.linear_2 = new nn.Linear(timeEmbedDim, outDim ?? timeEmbedDim);
  }

  forward(sample: Tensor): Tensor {
    return torch.scope(() => this.linear_2.forward(this.linear_1.forward(sample).silu()));
  }
}

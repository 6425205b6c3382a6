// Weightless layers, so Sequential indices match PyTorch's (a GELU still takes a slot).
import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import { constant } from './init.ts';
import { Module, parameter } from './module.ts';

export class SiLU extends Module { forward(x: Tensor): Tensor { return torch.silu(x); } }
export class ReLU extends Module { forward(x: Tensor): Tensor { return torch.relu(x); } }
export class Identity extends Module { forward(x: Tensor): Tensor { return x; } }
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') { super(); }
  forward(x: Tensor): Tensor { return torch.gelu(x, this.approximate); }
}
export class PReLU extends Module {
  weight: Tensor;
  constructor(numParameters = 1, init = 0.25) {
    super();
    this.weight = parameter(constant([numParameters], init));
  }
  forward(x: Tensor): Tensor { return torch.prelu(x, this.weight); }
}
export class Dropout extends Module {
  constructor(readonly p = 0.5) { super(); }
  forward(x: Tensor): Tensor { return this.training && this.p > 0 ? torch.dropout(x, this.p, true) : x; }
}

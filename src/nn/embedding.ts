import * as torch from '../torch/index.ts';
import type { Tensor } from '../torch/index.ts';
import { normal } from './init.ts';
import { Module, parameter } from './module.ts';

export class Embedding extends Module {
  weight: Tensor;
  constructor(readonly numEmbeddings: number, readonly dim: number) {
    super();
    this.weight = parameter(normal([numEmbeddings, dim], 1));
  }
  forward(indices: Tensor): Tensor {
    return torch.embedding(this.weight, indices);
  }
}

// diffusers' `FeedForward` with the GEGLU activation: net.0 = GEGLU (proj to 2·inner, value·gelu(gate)),
// net.1 = Dropout, net.2 = Linear back to dim_out. Rows are independent, so long token sets run in
// row chunks that bound the 2·inner-wide intermediate (same numbers, less peak memory).
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';

export class GEGLU extends nn.Module {
  proj: nn.Linear;
  constructor(dimIn: number, dimOut: number, bias = true) {
    super();
    this.proj = new nn.Linear(dimIn, dimOut * 2, { bias });
  }
  forward(x: Tensor): Tensor {
    return torch.scope(() => {
      // Two products over the halves of proj's rows (contiguous slices of the weight) rather than one
      // chunked result: gelu on a strided half ran 5x slower than on a contiguous tensor.
      const { weight, bias } = this.proj;
      const half = weight.size(0) / 2;
      const part = (start: number) => torch.linear(x, weight.narrow(0, start, half), bias?.narrow(0, start, half));
      return part(0).mul(part(half).gelu());
    });
  }
}

/** Intermediate elements (rows × 2·inner) per chunk: 2^25 = 128 MiB in f32. */
export const DEFAULT_FF_CHUNK_ELEMENTS = 2 ** 25;

export class FeedForward extends nn.Module {
  net: nn.ModuleList<nn.Layer>;
  readonly innerDim: number;
  /** Bound on the GEGLU intermediate per chunk of rows. */
  maxChunkElements = DEFAULT_FF_CHUNK_ELEMENTS;

  constructor(dim: number, opts: { dimOut?: number; mult?: number; dropout?: number; bias?: boolean } = {}) {
    super();
    this.innerDim = Math.floor(dim * (opts.mult ?? 4));
    const bias = opts.bias ?? true;
    this.net = new nn.ModuleList<nn.Layer>([
      new GEGLU(dim, this.innerDim, bias),
      new nn.Dropout(opts.dropout ?? 0),
      new nn.Linear(this.innerDim, opts.dimOut ?? dim, { bias }),
    ]);
  }

  forward(x: Tensor): Tensor {
    const run = (t: Tensor) => torch.scope(() => {
      let h = t;
      for (const layer of this.net) h = layer.forward(h);
      return h;
    });
    const shape = x.shape;
    const rows = x.numel / shape[shape.length - 1];
    const perChunk = Math.max(1, Math.floor(this.maxChunkElements / (2 * this.innerDim)));
    if (rows <= perChunk) return run(x);
    return torch.scope(() => {
      const flat = x.reshape([rows, shape[shape.length - 1]]);
      const parts: Tensor[] = [];
      for (let s = 0; s < rows; s += perChunk) parts.push(run(flat.narrow(0, s, Math.min(perChunk, rows - s))));
      return torch.cat(parts, 0).view([...shape.slice(0, -1), -1]);
    });
  }
}

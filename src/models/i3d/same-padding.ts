// TensorFlow "SAME" padding as pytorch-i3d computes it per input size: along each axis of size s with
// kernel k and stride d, pad max(k - d, 0) when d divides s, else max(k - s % d, 0), split with the
// smaller half in front (output size ceil(s / d)). Padding is with zeros, for the convolutions and the
// max-pools alike (pytorch-i3d's F.pad before nn.MaxPool3d; the pools follow ReLUs, so 0 never wins
// over a real value there, but we keep its exact arithmetic).

import type { Tensor } from '../../torch/index.ts';

export type Triple = [number, number, number];

/** [front, back] padding of one axis. */
export function samePad(size: number, kernel: number, stride: number): [number, number] {
  const total = size % stride === 0 ? Math.max(kernel - stride, 0) : Math.max(kernel - (size % stride), 0);
  const front = Math.floor(total / 2);
  return [front, total - front];
}

/** Zero-pads x [N, C, T, H, W] for a SAME window of `kernel` and `stride` over (T, H, W). */
export function padSame(x: Tensor, kernel: Triple, stride: Triple): Tensor {
  const [t, h, w] = x.shape.slice(2) as Triple;
  const pt = samePad(t, kernel[0], stride[0]);
  const ph = samePad(h, kernel[1], stride[1]);
  const pw = samePad(w, kernel[2], stride[2]);
  if (pt[0] + pt[1] + ph[0] + ph[1] + pw[0] + pw[1] === 0) return x;
  return x.pad([...pw, ...ph, ...pt], 'constant', 0);
}

/** pytorch-i3d's MaxPool3dSamePadding (a module without parameters, so a function here). */
export function maxPool3dSame(x: Tensor, kernel: Triple, stride: Triple): Tensor {
  return padSame(x, kernel, stride).maxPool3d(kernel, stride);
}

// TensorFlow graph ops on libtorch. Tensors stay in TensorFlow's layout (NHWC); convolutions and pools view
// them as NCHW with channels-last strides (a permute, no copy), run libtorch's kernel and view the result
// back. Semantics follow TensorFlow's op definitions (padding 'SAME' may be asymmetric, resize modes,
// StridedSlice masks, floor division).

import * as torch from '../../../torch/index.ts';
import type { TfjsAttrValue, TfjsNode } from './weights.ts';

type Tensor = torch.Tensor;

export class Attrs {
  constructor(private readonly attr: Record<string, TfjsAttrValue> = {}, private readonly where = '') {}
  has(name: string): boolean {
    return name in this.attr;
  }
  int(name: string, fallback?: number): number {
    const v = this.attr[name]?.i;
    if (v === undefined) return this.need(name, fallback);
    return Number(v);
  }
  float(name: string, fallback?: number): number {
    const v = this.attr[name]?.f;
    if (v === undefined) return this.need(name, fallback);
    return Number(v);
  }
  bool(name: string, fallback = false): boolean {
    return this.attr[name]?.b ?? fallback;
  }
  str(name: string, fallback?: string): string {
    const v = this.attr[name]?.s;
    if (v === undefined) return this.need(name, fallback);
    return Buffer.from(v, 'base64').toString('utf8');
  }
  type(name: string, fallback?: string): string {
    return this.attr[name]?.type ?? this.need(name, fallback);
  }
  ints(name: string, fallback?: number[]): number[] {
    const v = this.attr[name]?.list?.i;
    if (v === undefined) return this.need(name, fallback);
    return v.map(Number);
  }
  strs(name: string): string[] {
    return (this.attr[name]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
  }
  private need<T>(name: string, fallback: T | undefined): T {
    if (fallback === undefined) throw new Error(`${this.where}: missing attribute '${name}'`);
    return fallback;
  }
}

export interface OpContext {
  node: TfjsNode;
  attrs: Attrs;
  /** The values of a small integer tensor (shapes, axes, sizes): cached for constants. */
  ints(t: Tensor): number[];
  /** Per-node cache for prepared constants (converted conv weights). */
  cache: Map<string, unknown>;
  /** True when input i is a constant (weights), so derived values may be cached. */
  isConst(i: number): boolean;
}

export type Kernel = (inputs: Tensor[], ctx: OpContext) => Tensor[];

const DTYPES: Record<string, torch.DType> = { DT_FLOAT: 'f32', DT_INT32: 'i32', DT_INT64: 'i64', DT_BOOL: 'bool', DT_DOUBLE: 'f64' };

export function torchDtype(tfType: string): torch.DType {
  const d = DTYPES[tfType];
  if (!d) throw new Error(`unsupported TensorFlow dtype ${tfType}`);
  return d;
}

function axis(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}

/** TensorFlow 'SAME' padding along one axis: [before, after]. */
export function samePadding(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const out = Math.ceil(size / stride);
  const effective = (kernel - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

interface Window {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
}

/** [top, bottom, left, right] for an NHWC input under the node's padding attribute. */
function paddings(x: Tensor, w: Window, attrs: Attrs): [number, number, number, number] {
  const mode = attrs.str('padding', 'VALID');
  if (mode === 'VALID') return [0, 0, 0, 0];
  if (mode === 'EXPLICIT') {
    const p = attrs.ints('explicit_paddings'); // NHWC pairs
    return [p[2], p[3], p[4], p[5]];
  }
  if (mode !== 'SAME') throw new Error(`unsupported padding '${mode}'`);
  const [, h, wd] = x.shape;
  const [t, b] = samePadding(h, w.kernel[0], w.strides[0], w.dilations[0]);
  const [l, r] = samePadding(wd, w.kernel[1], w.strides[1], w.dilations[1]);
  return [t, b, l, r];
}

function checkNhwc(attrs: Attrs): void {
  const format = attrs.str('data_format', 'NHWC');
  if (format !== 'NHWC') throw new Error(`unsupported data_format ${format} (NHWC only)`);
}

function hw(list: number[]): [number, number] {
  return [list[1], list[2]];
}

/** NHWC input, torch weight [O, I/groups, kh, kw]: a TensorFlow convolution with its padding. */
function convNhwc(x: Tensor, weight: Tensor, bias: Tensor | undefined, groups: number, attrs: Attrs): Tensor {
  checkNhwc(attrs);
  const [, , kh, kw] = weight.shape;
  const strides = hw(attrs.ints('strides', [1, 1, 1, 1]));
  const dilations = hw(attrs.ints('dilations', [1, 1, 1, 1]));
  const [t, b, l, r] = paddings(x, { kernel: [kh, kw], strides, dilations }, attrs);
  let xn = x.permute([0, 3, 1, 2]);
  let pad = [t, l];
  if (t !== b || l !== r) {
    xn = torch.pad(xn, [l, r, t, b], 'constant', 0);
    pad = [0, 0];
  }
  return torch.conv2d(xn, weight, bias, strides, pad, dilations, groups);
}

/** Applies a fused op's activation to an NCHW (channel dim 1) or [N, C] tensor. */
function activate(y: Tensor, fused: string[], extra: Tensor[], attrs: Attrs): Tensor {
  const act = fused.filter((f) => f !== 'BiasAdd');
  if (act.length === 0) return y;
  if (act.length > 1) throw new Error(`unsupported fused ops ${fused.join('+')}`);
  switch (act[0]) {
    case 'Relu': return torch.relu(y);
    case 'Relu6': return torch.clamp(y, 0, 6);
    case 'Elu': return torch.where(y.gt(0), y, y.exp().sub(1));
    case 'Sigmoid': return torch.sigmoid(y);
    case 'Tanh': return torch.tanh(y);
    case 'LeakyRelu': {
      const alpha = attrs.float('leakyrelu_alpha', 0.2);
      return torch.where(y.gt(0), y, y.mul(alpha));
    }
    case 'Prelu': {
      const alpha = extra[0];
      return torch.prelu(y, alpha.numel === 1 ? alpha.reshape([1]) : alpha.reshape([-1]));
    }
    default: throw new Error(`unsupported fused activation ${act[0]}`);
  }
}

function fusedArgs(inputs: Tensor[], attrs: Attrs, first: number): { fused: string[]; bias?: Tensor; extra: Tensor[] } {
  const fused = attrs.strs('fused_ops');
  const args = inputs.slice(first);
  const hasBias = fused.includes('BiasAdd');
  if (fused.some((f) => f === 'FusedBatchNorm')) throw new Error('unsupported fused op FusedBatchNorm');
  const bias = hasBias ? (args[0].ndim === 1 ? args[0] : args[0].reshape([-1])) : undefined;
  return { fused, bias, extra: hasBias ? args.slice(1) : args };
}

/** A cached derived constant, or a fresh value when its source is computed at run time. */
function prepared(ctx: OpContext, key: string, inputIndex: number, make: () => Tensor): Tensor {
  if (!ctx.isConst(inputIndex)) return make();
  let v = ctx.cache.get(key) as Tensor | undefined;
  if (!v) {
    v = torch.keep(make());
    ctx.cache.set(key, v);
  }
  return v;
}

function conv2dKernel(inputs: Tensor[], ctx: OpContext): Tensor[] {
  const [x, filter] = inputs;
  // TensorFlow filter [kh, kw, in, out] -> torch [out, in, kh, kw].
  const w = prepared(ctx, 'w', 1, () => filter.permute([3, 2, 0, 1]).contiguous());
  const { fused, bias, extra } = ctx.node.op === '_FusedConv2D' ? fusedArgs(inputs, ctx.attrs, 2) : { fused: [], bias: undefined, extra: [] };
  const y = convNhwc(x, w, bias, 1, ctx.attrs);
  return [activate(y, fused, extra, ctx.attrs).permute([0, 2, 3, 1])];
}

function depthwiseKernel(inputs: Tensor[], ctx: OpContext): Tensor[] {
  const [x, filter] = inputs;
  const [kh, kw, c, m] = filter.shape;
  // [kh, kw, C, M] -> [C*M, 1, kh, kw]; output channel c*M + m, as TensorFlow orders them.
  const w = prepared(ctx, 'w', 1, () => filter.permute([2, 3, 0, 1]).reshape([c * m, 1, kh, kw]).contiguous());
  const isFused = ctx.node.op === 'FusedDepthwiseConv2dNative';
  const { fused, bias, extra } = isFused ? fusedArgs(inputs, ctx.attrs, 2) : { fused: [], bias: undefined, extra: [] };
  const y = convNhwc(x, w, bias, c, ctx.attrs);
  return [activate(y, fused, extra, ctx.attrs).permute([0, 2, 3, 1])];
}

function matMulKernel(inputs: Tensor[], ctx: OpContext): Tensor[] {
  let [a, b] = inputs;
  if (ctx.attrs.bool('transpose_a')) a = a.transpose(-1, -2);
  if (ctx.attrs.bool('transpose_b')) b = b.transpose(-1, -2);
  let y = torch.matmul(a, b);
  if (ctx.node.op === '_FusedMatMul') {
    const { fused, bias, extra } = fusedArgs(inputs, ctx.attrs, 2);
    if (bias) y = y.add(bias);
    y = activate(y, fused, extra, ctx.attrs);
  }
  return [y];
}

function poolKernel(inputs: Tensor[], ctx: OpContext): Tensor[] {
  const [x] = inputs;
  checkNhwc(ctx.attrs);
  const kernel = hw(ctx.attrs.ints('ksize'));
  const strides = hw(ctx.attrs.ints('strides'));
  const [t, b, l, r] = paddings(x, { kernel, strides, dilations: [1, 1] }, ctx.attrs);
  let xn = x.permute([0, 3, 1, 2]);
  if (ctx.node.op === 'MaxPool') {
    if (t || b || l || r) xn = torch.pad(xn, [l, r, t, b], 'constant', -3.4e38);
    return [torch.maxPool2d(xn, kernel, strides, 0).permute([0, 2, 3, 1])];
  }
  // AvgPool: TensorFlow averages over the valid (unpadded) elements only.
  const ones = torch.onesLike(xn.narrow(1, 0, 1));
  const pad = (v: Tensor) => (t || b || l || r ? torch.pad(v, [l, r, t, b], 'constant', 0) : v);
  const sum = torch.avgPool2d(pad(xn), kernel, strides, 0);
  const count = torch.avgPool2d(pad(ones), kernel, strides, 0);
  return [sum.div(count).permute([0, 2, 3, 1])];
}

/** Source index and weight per output position for TensorFlow's bilinear resize along one axis. */
export function resizeWeights(inSize: number, outSize: number, alignCorners: boolean, halfPixel: boolean): { lo: Int32Array; hi: Int32Array; frac: Float32Array } {
  const scale = alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const src = halfPixel ? (i + 0.5) * scale - 0.5 : i * scale;
    const f = Math.floor(src);
    lo[i] = Math.max(f, 0);
    hi[i] = Math.min(Math.ceil(src), inSize - 1);
    frac[i] = src - f;
  }
  return { lo, hi, frac };
}

function lerpAxis(x: Tensor, dim: number, outSize: number, alignCorners: boolean, halfPixel: boolean): Tensor {
  const inSize = x.size(dim);
  if (inSize === outSize && !alignCorners) return x;
  const { lo, hi, frac } = resizeWeights(inSize, outSize, alignCorners, halfPixel);
  const a = x.indexSelect(dim, torch.tensor(lo).to('i64'));
  const b = x.indexSelect(dim, torch.tensor(hi).to('i64'));
  const shape = x.shape.map((_, d) => (d === dim ? outSize : 1));
  const w = torch.tensor(frac, { shape });
  return a.add(b.sub(a).mul(w));
}

function resizeBilinearKernel(inputs: Tensor[], ctx: OpContext): Tensor[] {
  const [x, size] = inputs;
  const [oh, ow] = ctx.ints(size);
  const align = ctx.attrs.bool('align_corners');
  const half = ctx.attrs.bool('half_pixel_centers');
  return [lerpAxis(lerpAxis(x.to('f32'), 1, oh, align, half), 2, ow, align, half)];
}

function resizeNearestKernel(inputs: Tensor[], ctx: OpContext): Tensor[] {
  const [x, size] = inputs;
  const [oh, ow] = ctx.ints(size);
  const align = ctx.attrs.bool('align_corners');
  const half = ctx.attrs.bool('half_pixel_centers');
  let y = x;
  for (const [dim, out] of [[1, oh], [2, ow]] as const) {
    const inSize = y.size(dim);
    const scale = align && out > 1 ? (inSize - 1) / (out - 1) : inSize / out;
    const idx = new Int32Array(out);
    for (let i = 0; i < out; i++) {
      const src = half ? (i + 0.5) * scale : i * scale;
      idx[i] = Math.min(align ? Math.round(src) : Math.floor(src), inSize - 1);
    }
    y = y.indexSelect(dim, torch.tensor(idx).to('i64'));
  }
  return [y];
}

function stridedSliceKernel(inputs: Tensor[], ctx: OpContext): Tensor[] {
  const [x, beginT, endT, stridesT] = inputs;
  const begin = ctx.ints(beginT);
  const end = ctx.ints(endT);
  const strides = stridesT ? ctx.ints(stridesT) : begin.map(() => 1);
  const a = ctx.attrs;
  const beginMask = a.int('begin_mask', 0);
  const endMask = a.int('end_mask', 0);
  const ellipsisMask = a.int('ellipsis_mask', 0);
  const newAxisMask = a.int('new_axis_mask', 0);
  const shrinkMask = a.int('shrink_axis_mask', 0);
  const shape = x.shape;
  // Expand the sparse spec to one entry per input dimension (plus new axes).
  type Spec = { kind: 'slice'; dim: number; b: number; e: number; s: number; bm: boolean; em: boolean; shrink: boolean } | { kind: 'new' };
  const specs: Spec[] = [];
  let dim = 0;
  const n = begin.length;
  const consumed = Array.from({ length: n }, (_, i) => !((ellipsisMask >> i) & 1) && !((newAxisMask >> i) & 1)).filter(Boolean).length;
  for (let i = 0; i < n; i++) {
    if ((ellipsisMask >> i) & 1) {
      const fill = shape.length - consumed;
      for (let k = 0; k < fill; k++) specs.push({ kind: 'slice', dim: dim++, b: 0, e: 0, s: 1, bm: true, em: true, shrink: false });
    } else if ((newAxisMask >> i) & 1) {
      specs.push({ kind: 'new' });
    } else {
      specs.push({ kind: 'slice', dim: dim++, b: begin[i], e: end[i], s: strides[i], bm: !!((beginMask >> i) & 1), em: !!((endMask >> i) & 1), shrink: !!((shrinkMask >> i) & 1) });
    }
  }
  while (dim < shape.length) specs.push({ kind: 'slice', dim: dim++, b: 0, e: 0, s: 1, bm: true, em: true, shrink: false });
  let y = x;
  const outShape: number[] = [];
  for (const sp of specs) {
    if (sp.kind === 'new') {
      outShape.push(1);
      continue;
    }
    const size = shape[sp.dim];
    if (sp.shrink) {
      const i = sp.b < 0 ? sp.b + size : sp.b;
      y = y.narrow(sp.dim, i, 1);
      continue;
    }
    if (sp.s <= 0) throw new Error('StridedSlice: only positive strides are supported');
    const clampIndex = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
    const b = sp.bm ? 0 : clampIndex(sp.b);
    const e = sp.em ? size : clampIndex(sp.e);
    const len = Math.max(0, Math.ceil((e - b) / sp.s));
    y = torch.slice(y, sp.dim, b, Math.max(b, e), sp.s);
    outShape.push(len);
  }
  return [y.reshape(outShape)];
}

function gatherKernel(inputs: Tensor[], ctx: OpContext): Tensor[] {
  const [params, indices, axisT] = inputs;
  const ax = axis(axisT ? ctx.ints(axisT)[0] : ctx.attrs.int('axis', 0), params.ndim);
  if (ctx.attrs.int('batch_dims', 0) !== 0) throw new Error('GatherV2: batch_dims is not supported');
  const shape = params.shape;
  const flat = params.indexSelect(ax, indices.reshape([-1]).to('i64'));
  return [flat.reshape([...shape.slice(0, ax), ...indices.shape, ...shape.slice(ax + 1)])];
}

function gatherNdKernel(inputs: Tensor[]): Tensor[] {
  const [params, indices] = inputs;
  const ishape = indices.shape;
  const m = ishape[ishape.length - 1];
  const pshape = params.shape;
  const lead = pshape.slice(0, m);
  const rest = pshape.slice(m);
  const strides = lead.map((_, i) => lead.slice(i + 1).reduce((p, q) => p * q, 1));
  const idx = indices.to('i64').reshape([-1, m]);
  const flatIndex = torch.matmul(idx, torch.tensor(Int32Array.from(strides)).to('i64').reshape([m, 1])).reshape([-1]);
  const gathered = params.reshape([lead.reduce((p, q) => p * q, 1), ...rest]).indexSelect(0, flatIndex);
  return [gathered.reshape([...ishape.slice(0, -1), ...rest])];
}

function binary(f: (a: Tensor, b: Tensor) => Tensor): Kernel {
  return (inputs) => [f(inputs[0], inputs[1])];
}

function unary(f: (a: Tensor) => Tensor): Kernel {
  return (inputs) => [f(inputs[0])];
}

function reduce(f: (x: Tensor, axes: number[], keep: boolean) => Tensor): Kernel {
  return (inputs, ctx) => {
    const [x, axesT] = inputs;
    const axes = ctx.ints(axesT).map((a) => axis(a, x.ndim));
    const keep = ctx.attrs.bool('keep_dims');
    if (axes.length === 0) return [x.view(x.shape)];
    return [f(x, axes, keep)];
  };
}

function isInt(t: Tensor): boolean {
  return t.dtype === 'i32' || t.dtype === 'i64';
}

function floorDiv(a: Tensor, b: Tensor): Tensor {
  if (isInt(a) && isInt(b)) return torch.divMode(a, b, 'floor');
  return torch.floor(a.div(b));
}

/** Integer division results keep TensorFlow's int32 dtype. */
function asDtypeOf(y: Tensor, like: Tensor): Tensor {
  return y.dtype === like.dtype ? y : y.to(like.dtype);
}

export const KERNELS: Record<string, Kernel> = {
  Identity: (inputs) => [inputs[0].view(inputs[0].shape)],
  Conv2D: conv2dKernel,
  _FusedConv2D: conv2dKernel,
  DepthwiseConv2dNative: depthwiseKernel,
  FusedDepthwiseConv2dNative: depthwiseKernel,
  MatMul: matMulKernel,
  _FusedMatMul: matMulKernel,
  BiasAdd: binary((a, b) => a.add(b)),
  MaxPool: poolKernel,
  AvgPool: poolKernel,
  ResizeBilinear: resizeBilinearKernel,
  ResizeNearestNeighbor: resizeNearestKernel,

  Add: binary((a, b) => a.add(b)),
  AddV2: binary((a, b) => a.add(b)),
  AddN: (inputs) => [inputs.slice(1).reduce((acc, t) => acc.add(t), inputs[0])],
  Sub: binary((a, b) => a.sub(b)),
  Mul: binary((a, b) => a.mul(b)),
  RealDiv: binary((a, b) => a.div(b)),
  Div: binary((a, b) => (isInt(a) && isInt(b) ? torch.divMode(a, b, 'trunc') : a.div(b))),
  FloorDiv: binary((a, b) => asDtypeOf(floorDiv(a, b), a)),
  FloorMod: binary((a, b) => torch.remainder(a, b)),
  Maximum: binary((a, b) => torch.maximum(a, b)),
  Minimum: binary((a, b) => torch.minimum(a, b)),
  SquaredDifference: binary((a, b) => a.sub(b).square()),
  Pow: binary((a, b) => torch.pow(a, b)),
  Equal: binary((a, b) => a.eq(b)),
  NotEqual: binary((a, b) => a.ne(b)),
  Greater: binary((a, b) => a.gt(b)),
  GreaterEqual: binary((a, b) => a.ge(b)),
  Less: binary((a, b) => a.lt(b)),
  LessEqual: binary((a, b) => a.le(b)),
  LogicalAnd: binary((a, b) => torch.logicalAnd(a, b)),
  Select: (inputs) => [torch.where(inputs[0], inputs[1], inputs[2])],
  SelectV2: (inputs) => [torch.where(inputs[0], inputs[1], inputs[2])],

  Relu: unary((x) => torch.relu(x)),
  Relu6: unary((x) => torch.clamp(x, 0, 6)),
  Elu: unary((x) => torch.where(x.gt(0), x, x.exp().sub(1))),
  Sigmoid: unary((x) => torch.sigmoid(x)),
  Tanh: unary((x) => torch.tanh(x)),
  Exp: unary((x) => torch.exp(x)),
  Log: unary((x) => torch.log(x)),
  Sqrt: unary((x) => torch.sqrt(x)),
  Rsqrt: unary((x) => torch.rsqrt(x)),
  Square: unary((x) => x.square()),
  Neg: unary((x) => x.neg()),
  Abs: unary((x) => x.abs()),
  Floor: unary((x) => torch.floor(x)),
  Reciprocal: unary((x) => torch.reciprocal(x)),
  Prelu: (inputs) => {
    const [x, alpha] = inputs;
    return [torch.where(x.gt(0), x, x.mul(alpha))];
  },
  LeakyRelu: (inputs, ctx) => {
    const alpha = ctx.attrs.float('alpha', 0.2);
    return [torch.where(inputs[0].gt(0), inputs[0], inputs[0].mul(alpha))];
  },
  Softmax: unary((x) => x.softmax(-1)),

  Mean: reduce((x, axes, keep) => torch.mean(x, axes, keep)),
  Sum: reduce((x, axes, keep) => torch.sum(x, axes, keep)),
  Max: reduce((x, axes, keep) => torch.amax(x, axes, keep)),
  Min: reduce((x, axes, keep) => torch.amin(x, axes, keep)),
  ArgMax: (inputs, ctx) => {
    const [x, axisT] = inputs;
    const out = torch.argmax(x, axis(ctx.ints(axisT)[0], x.ndim), false);
    return [out.to(torchDtype(ctx.attrs.type('output_type', 'DT_INT64')))];
  },
  TopKV2: (inputs, ctx) => {
    const [x, kT] = inputs;
    const [values, indices] = torch.topk(x, ctx.ints(kT)[0], -1, true, ctx.attrs.bool('sorted', true));
    return [values, indices.to('i32')];
  },

  Cast: (inputs, ctx) => [inputs[0].to(torchDtype(ctx.attrs.type('DstT')), { copy: true })],
  Reshape: (inputs, ctx) => [inputs[0].reshape(ctx.ints(inputs[1]))],
  Squeeze: (inputs, ctx) => {
    const x = inputs[0];
    const dims = ctx.attrs.ints('squeeze_dims', []).map((d) => axis(d, x.ndim));
    const shape = x.shape.filter((s, d) => (dims.length === 0 ? s !== 1 : !dims.includes(d)));
    return [x.reshape(shape)];
  },
  ExpandDims: (inputs, ctx) => {
    const x = inputs[0];
    const d = ctx.ints(inputs[1])[0];
    return [x.unsqueeze(d < 0 ? d + x.ndim + 1 : d)];
  },
  Transpose: (inputs, ctx) => [inputs[0].permute(ctx.ints(inputs[1]))],
  ConcatV2: (inputs, ctx) => {
    const values = inputs.slice(0, -1);
    return [torch.cat(values, axis(ctx.ints(inputs[inputs.length - 1])[0], values[0].ndim))];
  },
  Pack: (inputs, ctx) => {
    const d = ctx.attrs.int('axis', 0);
    return [torch.stack(inputs, d < 0 ? d + inputs[0].ndim + 1 : d)];
  },
  Unpack: (inputs, ctx) => {
    const x = inputs[0];
    const d = axis(ctx.attrs.int('axis', 0), x.ndim);
    return Array.from({ length: x.size(d) }, (_, i) => x.select(d, i));
  },
  Split: (inputs, ctx) => {
    const [axisT, x] = inputs;
    const d = axis(ctx.ints(axisT)[0], x.ndim);
    const n = ctx.attrs.int('num_split');
    return torch.chunk(x, n, d);
  },
  Slice: (inputs, ctx) => {
    const [x, beginT, sizeT] = inputs;
    const begin = ctx.ints(beginT);
    const size = ctx.ints(sizeT);
    let y = x;
    begin.forEach((b, d) => {
      const len = size[d] < 0 ? x.size(d) - b : size[d];
      y = y.narrow(d, b, len);
    });
    return [y];
  },
  StridedSlice: stridedSliceKernel,
  Pad: (inputs, ctx) => {
    const [x, padsT] = inputs;
    const p = ctx.ints(padsT);
    const pairs: number[] = [];
    for (let d = x.ndim - 1; d >= 0; d--) pairs.push(p[2 * d], p[2 * d + 1]);
    return [torch.pad(x, pairs, 'constant', 0)];
  },
  PadV2: (inputs, ctx) => {
    const [x, padsT, valueT] = inputs;
    const p = ctx.ints(padsT);
    const pairs: number[] = [];
    for (let d = x.ndim - 1; d >= 0; d--) pairs.push(p[2 * d], p[2 * d + 1]);
    return [torch.pad(x, pairs, 'constant', valueT.item())];
  },
  GatherV2: gatherKernel,
  GatherNd: gatherNdKernel,
  Shape: (inputs) => [torch.tensor(Int32Array.from(inputs[0].shape))],
  Fill: (inputs, ctx) => [torch.full(ctx.ints(inputs[0]), inputs[1].item(), inputs[1].dtype)],
  ZerosLike: unary((x) => torch.zerosLike(x)),
  OnesLike: unary((x) => torch.onesLike(x)),
};

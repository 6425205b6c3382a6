// The engine's public surface: `import * as torch from './torch/index.ts'`.
export * from './generated/ops.ts';
// shadow the generated GEMM/conv ops: f32 compute for bf16 on CPUs that emulate it
export { linear, matmul, mm, bmm, baddbmm, addmm, conv1d, conv2d, conv3d, convTranspose2d, nativeBf16 } from './bf16-gemm.ts';
export { Tensor, tensor, fromRaw, wrap } from './tensor.ts';
export type { TypedArrayOf } from './tensor.ts';
export { scope, keep, liveTensors, reportedBytes } from './scope.ts';
export { noGrad, enableGrad, isGradEnabled, grad, backward, checkpoint, autocast } from './autograd.ts';
export { Generator } from './random.ts';
export { setNumThreads, getNumThreads, engineInfo, isOutOfMemoryError } from './runtime.ts';
export type { DType, RawTensor } from './dtype.ts';
export { isFloating, ITEM_SIZE } from './dtype.ts';
export type { Device, MemoryFormat } from './codes.ts';
export { gradcheck, type GradcheckResult } from './gradcheck.ts';
export { countFlops } from './flops.ts';
export * as distributed from './distributed.ts';

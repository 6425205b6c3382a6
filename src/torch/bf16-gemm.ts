// libtorch 1.13 runs bf16 GEMMs and convolutions on CPUs without AVX512-BF16/AMX through a slow
// emulation (measured on a 2-core EPYC: conv2d 15x, linear 90x slower than f32). There, bf16 tensors
// are multiplied in f32 and the product rounded to bf16: oneDNN's native bf16 kernels accumulate
// in f32 as well, so results agree to bf16 rounding, and tensors (weights, activations) stay bf16.
// The same holds for CPU autocast to bf16. These wrappers shadow the generated ops of the same name.
import { readFileSync } from 'node:fs';
import { cpuAutocastDtype, withoutCpuAutocast } from './autograd.ts';
import * as ops from './generated/ops.ts';
import type { Tensor } from './tensor.ts';

/** True where the CPU has bf16 arithmetic (AVX512-BF16 or AMX); STABLE_ANIMATOR_BF16_GEMM=native|f32 overrides. */
export const nativeBf16: boolean = (() => {
  const forced = process.env.STABLE_ANIMATOR_BF16_GEMM;
  if (forced === 'native' || forced === 'f32') return forced === 'native';
  try {
    return /\b(avx512_bf16|amx_bf16)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
})();

type Maybe = Tensor | undefined;

/**
 * Runs a GEMM-like op in f32 when it would hit the emulated bf16 kernels, returning bf16. `always`: also where
 * the CPU has bf16, for ops libtorch 1.13 has no CPU bf16 kernel for at all (conv_transpose2d fails with a
 * wrong channel count on an AVX512-BF16 EPYC).
 */
function gemm(args: Maybe[], run: (a: Maybe[]) => Tensor, always = false): Tensor {
  if (nativeBf16 && !always) return run(args);
  const floats = args.filter((t): t is Tensor => t !== undefined && t.dtype !== 'i64' && t.dtype !== 'i32');
  if (floats.length === 0 || floats[0].device !== 'cpu') return run(args);
  if (cpuAutocastDtype() === 'bf16') {
    return withoutCpuAutocast(() => run(args.map((t) => (t && floats.includes(t) ? t.to('f32') : t)))).to('bf16');
  }
  if (!floats.every((t) => t.dtype === 'bf16')) return run(args);
  return run(args.map((t) => t?.to('f32'))).to('bf16');
}

export function linear(input: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return gemm([input, weight, bias], ([i, w, b]) => ops.linear(i!, w!, b));
}
export function matmul(self: Tensor, other: Tensor): Tensor {
  return gemm([self, other], ([a, b]) => ops.matmul(a!, b!));
}
export function mm(self: Tensor, mat2: Tensor): Tensor {
  return gemm([self, mat2], ([a, b]) => ops.mm(a!, b!));
}
export function bmm(self: Tensor, mat2: Tensor): Tensor {
  return gemm([self, mat2], ([a, b]) => ops.bmm(a!, b!));
}
export function baddbmm(self: Tensor, batch1: Tensor, batch2: Tensor, beta?: number, alpha?: number): Tensor {
  return gemm([self, batch1, batch2], ([s, a, b]) => ops.baddbmm(s!, a!, b!, beta, alpha));
}
export function addmm(self: Tensor, mat1: Tensor, mat2: Tensor, beta?: number, alpha?: number): Tensor {
  return gemm([self, mat1, mat2], ([s, a, b]) => ops.addmm(s!, a!, b!, beta, alpha));
}

type ConvArgs = [stride?: number | number[], padding?: number | number[], dilation?: number | number[], groups?: number];
export function conv1d(input: Tensor, weight: Tensor, bias?: Tensor, ...rest: ConvArgs): Tensor {
  return gemm([input, weight, bias], ([i, w, b]) => ops.conv1d(i!, w!, b, ...rest));
}
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor, ...rest: ConvArgs): Tensor {
  return gemm([input, weight, bias], ([i, w, b]) => ops.conv2d(i!, w!, b, ...rest));
}
export function conv3d(input: Tensor, weight: Tensor, bias?: Tensor, ...rest: ConvArgs): Tensor {
  return gemm([input, weight, bias], ([i, w, b]) => ops.conv3d(i!, w!, b, ...rest));
}
export function convTranspose2d(input: Tensor, weight: Tensor, bias?: Tensor, stride?: number | number[],
  padding?: number | number[], outputPadding?: number | number[], groups?: number, dilation?: number | number[]): Tensor {
  return gemm([input, weight, bias], ([i, w, b]) => ops.convTranspose2d(i!, w!, b, stride, padding, outputPadding, groups, dilation), true);
}

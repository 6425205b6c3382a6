// add/sub/mul/div with a JS number run as their .Tensor overload with a wrapped-number tensor, as Python
// PyTorch does (native/dispatch.cc numberAsTensorArg): results, dtypes and errors must be Python's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { native } from '../../src/torch/native.ts';

const of = (values: number[], dtype: torch.DType) => torch.tensor(values, { dtype: 'f64' }).to(dtype);
const xs = [1.5, -2.25, 3, 0, 7];

test('a number does not promote a float tensor: the result keeps f32/f64/bf16/f16', () => {
  for (const dtype of ['f32', 'f64', 'bf16', 'f16'] as const) {
    for (const n of [2, -3, 0.1, 2.5, 1e300]) {
      for (const op of ['add', 'sub', 'mul', 'div'] as const) {
        assert.equal(of(xs, dtype)[op](n).dtype, dtype, `${dtype} ${op} ${n}`);
      }
    }
  }
});

test('f32 with a number equals f32 with a same-dtype tensor holding the number rounded to f32', () => {
  const x = of(xs, 'f32');
  for (const n of [2, -3, 0.1, 1 / 3, 2.5e-7, 1e300, -1e40, 2 ** 60, NaN, Infinity]) {
    const asTensor = of([n], 'f32');
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      assert.deepEqual(Array.from(x[op](n).data<'f32'>()), Array.from(x[op](asTensor).data<'f32'>()), `${op} ${n}`);
    }
  }
});

test('a bf16 tensor times a number computes in f32 from the number, as PyTorch does', () => {
  // bf16 values from Python: (torch.tensor([1.5, -2.25, 3.0]).bfloat16() * 0.1).float().tolist()
  assert.deepEqual(of([1.5, -2.25, 3], 'bf16').mul(0.1).toArray(), [0.150390625, -0.2255859375, 0.30078125]);
  assert.deepEqual(of([1.5, -2.25, 3], 'bf16').div(3).toArray(), [0.5, -0.75, 1]);
});

test('integer tensors: an int keeps the dtype, a float gives f32, true division gives f32', () => {
  const i = of([3, -7], 'i64');
  assert.equal(i.mul(2).dtype, 'i64');
  assert.deepEqual(i.mul(2).toArray(), [6, -14]);
  assert.equal(i.mul(2.5).dtype, 'f32');
  assert.deepEqual(i.mul(2.5).toArray(), [7.5, -17.5]);
  assert.equal(i.div(2).dtype, 'f32');
  assert.deepEqual(i.div(2).toArray(), [1.5, -3.5]);
  assert.equal(of([1, 2], 'i32').mul(3).dtype, 'i32');
  assert.deepEqual(of([1], 'u8').add(300).toArray(), [45]);  // 300 wraps to 44 in u8, as in Python
  assert.equal(of([1, 0], 'bool').mul(2).dtype, 'i64');
});

test('in place: f32 keeps its dtype, i64 refuses a float, the error names the op and its arguments', () => {
  const x = of([1, 2], 'f32');
  assert.equal(x.mul_(0.5), x);
  assert.deepEqual(x.toArray(), [0.5, 1]);
  assert.throws(() => of([3], 'i64').mul_(2.5), /aten::mul_\.Scalar\(i64\[1\], 2\.5\).*can't be cast to the desired output type Long/);
  assert.throws(() => of([3], 'f32').sub(true as unknown as number), /aten::sub\.Scalar\(f32\[1\], true, _\).*bool tensor is not supported/);
});

test('alpha still applies, and gradients flow to the tensor operand', () => {
  assert.deepEqual(of([1, 2], 'f32').add(3, 2).toArray(), [7, 8]);
  assert.deepEqual(of([1, 2], 'f32').sub(3, 2).toArray(), [-5, -4]);
  const x = of([1, 2], 'f32').requiresGrad_();
  x.mul(3).div(2).add(1).sum().backward();
  assert.deepEqual(x.grad!.toArray(), [1.5, 1.5]);
});

test('the .Scalar overloads of add/sub/mul/div(_) run as .Tensor; others (eq.Scalar) stay as they are', () => {
  for (const name of ['add', 'sub', 'mul', 'div', 'add_', 'sub_', 'mul_', 'div_']) {
    assert.match(native.opSchema(native.opLookup(`aten::${name}`, 'Scalar')), new RegExp(`^aten::${name}\\.Tensor\\(`));
  }
  assert.match(native.opSchema(native.opLookup('aten::eq', 'Scalar')), /^aten::eq\.Scalar\(/);
});

// The native bindings never trust their caller: sizes and offsets that would overflow the
// bounds checks, outputs with no elements next to huge sizes, outputs that share a storage
// with an input, and malformed argument lists are JS errors naming the op, never a crash,
// a hang or silently wrong data. (test/fuzz covers the same ground at random.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native, type NativeStorage } from '../../lib/native';
import { setCpuIsa } from '../../lib/info';
import { assertThrows, DEVICE } from '../helpers';

// Every storage a test makes, disposed at its end (a leak would be swept during a later test
// and upset its live-storage counts).
const made: NativeStorage[] = [];
function storage(dtype: 'float32' | 'int64', n: number): NativeStorage {
  const s = new native.Storage(DEVICE, dtype, n);
  made.push(s);
  return s;
}
function disposeAll(): void {
  for (const s of made.splice(0)) if (!s.disposed) s.dispose();
}
const f32 = (values: number[]): NativeStorage => {
  const s = storage('float32', values.length);
  if (values.length) s.write(Float32Array.from(values));
  return s;
};
const nan = (n: number) => f32(new Array(n).fill(NaN));
const read = (s: NativeStorage) => Array.from(s.read() as Float32Array);
// Runs fn and fails when it takes more than ms: the calls below once looped for minutes.
function quick(name: string, fn: () => void, ms = 10_000): void {
  const t0 = Date.now();
  fn();
  assert.ok(Date.now() - t0 < ms, `${name} took ${Date.now() - t0} ms`);
}

test('native: sizes and offsets beyond 2^53 are refused (no wrapped bounds checks)', () => {
  const a = f32([1, 2, 3, 4]), b = f32([0, 0, 0, 0]);
  // An offset near 2^63 used to wrap offset + count past the bounds check and write out of bounds.
  assertThrows(() => native.strided_copy(b, 0, a, 2 ** 63 - 1024, [2], [1]),
    /strided_copy: expected a non-negative integer below 2\^53 for inpOffset but received 9223372036854774784/);
  assertThrows(() => native.copy_storage(b, 2 ** 62, a, 0, 1), /copy_storage: expected a non-negative integer below 2\^53 for dstOffset/);
  assertThrows(() => native.relu_forward(b, a, 2 ** 53), /relu_forward: expected a non-negative integer below 2\^53 for n but received 9007199254740992/);
  assertThrows(() => native.relu_forward(b, a, NaN), /relu_forward: expected a non-negative integer below 2\^53 for n but received NaN/);
  assertThrows(() => native.strided_copy(b, 0, a, 0, [2], [2 ** 63]), /strided_copy: expected an array of non-negative integers below 2\^53 for strides/);
  assertThrows(() => native.add_scalar_i64(storage('int64', 1), 2 ** 63, 0, 1),
    /add_scalar_i64: expected an integer of magnitude below 2\^53 for value/);
  // Products and stride extents that do not fit in 64 bits.
  assertThrows(() => native.correct_count(b, a, storage('int64', 1), 2 ** 40, 2 ** 40),
    /correct_count: expected sizes whose product fits in 64 bits but received 1099511627776 \* 1099511627776/);
  assertThrows(() => native.strided_copy(b, 0, a, 0, [2 ** 20, 2 ** 20, 2 ** 20, 2 ** 20], [1, 1, 1, 1]), /strided_copy: expected sizes whose product fits in 64 bits/);
  assertThrows(() => native.binary_forward(b, a, a, 'add', [2], [2 ** 52 + 2 ** 51], [1]), /binary_forward: expected a storage of at least/);
  assertThrows(() => native.gemm_strided_batched({ C: b, A: a, B: a, M: 1, N: 1, K: 1, batch: 2 ** 30, transA: false, transB: false, alpha: 1, beta: 0, offC: 0, ldc: 1, strideC: 2 ** 40, offA: 0, lda: 1, strideA: 0, offB: 0, ldb: 1, strideB: 0 }),
    /gemm_strided_batched: expected sizes whose product fits in 64 bits/);
  // An int64 fill takes integers only (converting NaN to int64 is undefined).
  assertThrows(() => native.fill(storage('int64', 2), NaN, 0, 2), /fill: expected an integer of magnitude below 2\^53 for value but received NaN/);
  disposeAll();
});

test('native: no output elements means no work, even next to huge sizes', () => {
  const empty = storage('float32', 0), one = f32([1]);
  // conv2d with no output channels and padding 2^20: Ho * Wo = 2^42 positions, nothing to write.
  quick('conv2d_forward', () => native.conv2d_forward({ out: empty, inp: one, weight: empty, bias: null, N: 1, Cin: 1, H: 1, W: 1, Cout: 0, kh: 1, kw: 1, strideH: 1, strideW: 1, padH: 2 ** 20, padW: 2 ** 20, groups: 1 }));
  // Its backward divided by Cout / groups = 0; now dinp (the gradient of nothing) is 0.
  const dinp = nan(4);
  quick('conv2d_backward', () => native.conv2d_backward({ dinp, dweight: null, dbias: null, dout: empty, inp: null, weight: empty, N: 1, Cin: 1, H: 2, W: 2, Cout: 0, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, groups: 1 }));
  assert.equal(read(dinp), [0, 0, 0, 0]);
  const dw = nan(2);
  quick('conv2d_backward (dweight)', () => native.conv2d_backward({ dinp: null, dweight: dw, dbias: null, dout: empty, inp: f32([1, 2, 3, 4]), weight: null, N: 1, Cin: 2, H: 2, W: 1, Cout: 0, kh: 1, kw: 1, strideH: 1, strideW: 1, padH: 2 ** 20, padW: 0, groups: 1 }));
  // bias_grad over N * HW = 0 values with N huge: a sum over nothing.
  const db = nan(3);
  quick('bias_grad', () => native.bias_grad(db, empty, 2 ** 53 - 1, 3, 0));
  assert.equal(read(db), [0, 0, 0]);
  // sum_to over an empty input whose other sizes multiply past 2^64.
  const s = nan(1);
  quick('sum_to', () => native.sum_to(s, empty, [2 ** 40, 2 ** 40, 0], [1, 1, 1]));
  assert.equal(read(s), [0]);
  // unpartition_gate with empty planes but 2^40 rows of them.
  const dgate = nan(2);
  quick('unpartition_gate_backward', () => native.unpartition_gate_backward({ dy: empty, dgate, dout: empty, y: empty, gate: f32([1, 1]), N: 1, C: 2, Hp: 2 ** 40, h: 1, Wp: 0, w: 4 }));
  assert.equal(read(dgate), [0, 0]);
  disposeAll();
});

test('native: an output sharing a storage with an input is refused unless the kernel allows it', () => {
  const x = f32([1, 2, 3, 4, 5, 6]), y = f32([0, 0, 0, 0, 0, 0]);
  // Overlapping ranges of one storage gave wrong data silently.
  assertThrows(() => native.strided_copy(x, 1, x, 0, [4], [1]), /strided_copy: expected an output that does not overlap inp for out but received overlapping ranges of one storage/);
  assertThrows(() => native.copy_storage(x, 1, x, 0, 3), /copy_storage: expected an output that does not overlap src for dst/);
  // Ranges apart in one storage are fine (and used: a view's rows written into its own storage).
  native.strided_copy(x, 3, x, 0, [3], [1]);
  assert.equal(read(x), [1, 2, 3, 1, 2, 3]);
  assertThrows(() => native.binary_forward(x, x, y, 'add', [6], [1], [1]), /binary_forward: expected a storage distinct from a for out but received the same storage/);
  assertThrows(() => native.sum_to(x, x, [6], [1]), /sum_to: expected a storage distinct from inp for out/);
  assertThrows(() => native.bias_grad(x, x, 1, 2, 3), /bias_grad: expected a storage distinct from dout for dbias/);
  assertThrows(() => native.cross_entropy_soft_backward(x, f32([1]), f32([0, 0, 0]), y, x, 1, 6, 0), /cross_entropy_soft_backward: expected a storage distinct from target for dlogits/);
  // Optimizers update in place, one storage per tensor: a storage given twice would be updated twice.
  assertThrows(() => native.sgd_step([x, x], [y, y], [6, 6], 0.1, 0), /sgd_step: expected a storage distinct from params\[0\] for params\[1\] but received the same storage/);
  assertThrows(() => native.adamw_step({ params: [x], expAvgs: [y], expAvgSqs: [f32(new Array(6).fill(0))], grads: [x], ns: [6], steps: [1], lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }),
    /adamw_step: expected a storage distinct from grads\[0\] for params\[0\]/);
  // Elementwise kernels read each element before writing it: in place is allowed.
  native.relu_forward(y, y, 6);
  native.scale(x, x, 2, 1, 6);
  assert.equal(read(x), [3, 5, 7, 3, 5, 7]);
  disposeAll();
});

test('native: argument counts, types and values of the utility bindings', () => {
  assertThrows(() => (native.liveStorages as (...a: unknown[]) => unknown)(1), /liveStorages: expected 0 arguments but received 1/);
  assertThrows(() => (native.runtimeInfo as (...a: unknown[]) => unknown)(1), /runtimeInfo: expected 0 arguments but received 1/);
  assertThrows(() => native.setNumThreads(0), /setNumThreads: expected an integer in \[1, 1024\] for n but received 0/);
  assertThrows(() => native.setNumThreads(2 ** 63), /setNumThreads: expected a non-negative integer below 2\^53 for n/);
  assertThrows(() => native.setNumThreads('2' as never), /setNumThreads: expected a number for n but received a string/);
  assertThrows(() => native.setCpuIsa('sse' as never), /setCpuIsa: expected 'avx512' or 'avx2' for isa but received 'sse'/);
  assertThrows(() => native.setCpuIsa(3 as never), /setCpuIsa: expected 'avx512' or 'avx2' for isa but received a number/);
  assertThrows(() => setCpuIsa('AVX2' as never), /setCpuIsa: expected 'avx512' or 'avx2' for isa but received/);
  assertThrows(() => native.memoryStats('gpu' as never), /memoryStats: expected 'cpu' or 'cuda' for device but received 'gpu'/);
  assertThrows(() => native.setPoison(1 as never), /setPoison: expected a boolean for on but received a number/);
  assertThrows(() => native.binary_forward(f32([0]), f32([0]), f32([0]), 'div' as never, [1], [1], [1]), /binary_forward: expected 'add', 'sub' or 'mul' for op but received 'div'/);
  disposeAll();
});

test.run();

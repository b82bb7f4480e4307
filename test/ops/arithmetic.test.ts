import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { add, expand, mul, scope, sub, tensor, Rng, type Tensor } from '../../lib/index';
import { native } from '../../lib/native';
import { assertClose, assertNoLeak, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput } from '../helpers';
import { binaryRef } from './elementwise-ref';

const golden = fixture('arithmetic');
const ops = { add, sub, mul };
const refs = { add: (x: number, y: number) => x + y, sub: (x: number, y: number) => x - y, mul: (x: number, y: number) => x * y };

for (const c of ['same', 'channel', 'rank', 'scalar', 'left']) {
  for (const op of ['add', 'sub', 'mul'] as const) {
    test(`${op}: ${c} shapes match PyTorch (output and both gradients)`, () => {
      const a = fromHost(golden(`${c}.a`), true), b = fromHost(golden(`${c}.b`), true);
      const out = ops[op](a, b);
      assertClose(`${op} ${c} forward vs torch`, out, golden(`${c}.${op}.out`));
      out.backward(fromHost(golden(`${c}.w`)));
      assertClose(`${op} ${c} da vs torch`, a.grad!, golden(`${c}.${op}.da`));
      assertClose(`${op} ${c} db vs torch`, b.grad!, golden(`${c}.${op}.db`));
      for (const t of [a, b, out]) t.dispose();
    });
  }
}

const shapes: [number[], number[]][] = [
  [[4, 3, 5, 5], [1, 3, 1, 1]],
  [[2, 1, 4], [3, 1]],
  [[3], [2, 3]],
  [[2, 3], []],
  [[1, 3, 1], [2, 1, 4]],
];
for (const op of ['add', 'sub', 'mul'] as const) {
  test(`${op}: float64 reference and finite differences`, () => {
    const rng = new Rng(7);
    for (const [as, bs] of shapes)
      gradcheck({
        name: `${op} ${JSON.stringify(as)} ${JSON.stringify(bs)}`,
        rng,
        inputs: [randomInput(as, rng), randomInput(bs, rng)],
        op: ([a, b]) => ops[op](a, b),
        ref: ([a, b]) => binaryRef(as, bs, a, b, refs[op]),
      });
  });
}

test('add / mul: larger tensors split across threads match the float64 reference', () => {
  const rng = new Rng(8);
  const cases: [number[], number[]][] = [[[8, 16, 32, 32], [1, 16, 1, 1]], [[8, 16, 32, 32], [8, 16, 32, 32]], [[8, 16, 1, 1], [8, 16, 32, 32]], [[3, 1, 40000], [2, 1]]];
  for (const [as, bs] of cases) {
    const ai = randomInput(as, rng), bi = randomInput(bs, rng);
    const a = tensor(Float32Array.from(ai.data), as, { device: DEVICE }), b = tensor(Float32Array.from(bi.data), bs, { device: DEVICE });
    for (const op of ['add', 'mul'] as const) {
      const out = ops[op](a, b);
      assertClose(`${op} ${JSON.stringify(as)} ${JSON.stringify(bs)} vs float64`, out, binaryRef(as, bs, ai.data, bi.data, refs[op]));
      out.dispose();
    }
    for (const t of [a, b]) t.dispose();
  }
});

test('mul: the gradient is skipped for an operand that does not need one', () => {
  const a = tensor([1, 2, 3], [3], { device: DEVICE }).requiresGrad_();
  const b = tensor([4, 5, 6], [3], { device: DEVICE });
  mul(a, b).backward(tensor([1, 1, 1], [3], { device: DEVICE }));
  assertClose('mul da with b constant', a.grad!, [4, 5, 6]);
  assert.is(b.grad, null);
  for (const t of [a, b]) t.dispose();
});

test('add / mul: strided operands are read in place (permuted, expanded, sliced)', () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { device: DEVICE });
  const y = tensor([10, 20, 30], [3, 1], { device: DEVICE });
  // x^T (3, 2) + y (3, 1): a permuted view plus a broadcast column
  const s = add(x.permute(1, 0), y);
  assertClose('transposed + column', s, [11, 14, 22, 25, 33, 36]);
  // an expanded (stride 0) operand
  const e = mul(expand(y, [3, 2]), x.permute(1, 0));
  assertClose('expanded * transposed', e, [10, 40, 40, 100, 90, 180]);
  // a slice at a non-zero offset
  const l = sub(x.slice(1, 2), x.slice(0, 1));
  assertClose('slice - slice', l, [3, 3, 3]);
  for (const t of [x, y, s, e, l]) t.dispose();
});

test('add: gradients of a shared operand accumulate (x + x, x * x)', () => {
  const x = tensor([1, -2, 3], [3], { device: DEVICE }).requiresGrad_();
  add(x, x).backward(tensor([1, 1, 1], [3], { device: DEVICE }));
  assertClose('d(x + x)', x.grad!, [2, 2, 2]);
  x.grad!.dispose();
  x.grad = null;
  mul(x, x).backward(tensor([1, 1, 1], [3], { device: DEVICE }));
  assertClose('d(x * x)', x.grad!, [2, -4, 6]);
  x.dispose();
});

test('add / sub / mul: reject bad input with a clear message', () => {
  const a = tensor([1, 2, 3, 4, 5, 6], [2, 3]), b = tensor([1, 2, 3, 4], [4]);
  assertThrows(() => add(a, b), /add: expected a shape that broadcasts with a's shape \(2, 3\) for b but received shape \(4\)/);
  const c = tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 4, 1]), d = tensor([1, 2, 3], [3, 1]);
  assertThrows(() => mul(c, d), /mul: expected a shape that broadcasts with a's shape \(2, 4, 1\) for b but received shape \(3, 1\) \(size 3 against 4 in dimension 1 of the result\)/);
  assertThrows(() => sub(a, tensor(BigInt64Array.from([1n]))), /sub: expected a float32 tensor for b but received an int64 tensor/);
  assertThrows(() => add(null as never, a), /add: expected a Tensor for a but received null/);
  // the native side checks again
  assertThrows(() => native.binary_forward(a.storage, a.storage, b.storage, 'div' as never, [2, 3], [3, 1], [0, 1]), /binary_forward: expected 'add', 'sub' or 'mul' for op but received 'div'/);
  assertThrows(() => native.binary_forward(a.storage, a.storage, b.storage, 'add', [2, 3], [3, 1], [4, 1]), /binary_forward: expected a storage of at least 7 elements for b but received one of 4/);
  assertThrows(() => native.binary_forward(a.storage, a.storage, b.storage, 'add', [2, 3], [3, 1], [1]), /binary_forward: expected one stride per dimension of outShape \(2\) for bStrides but received 1/);
  assertThrows(() => native.binary_forward(a.storage, a.storage, b.storage, 'add', [2, 3], [3, -1], [0, 1]), /binary_forward: expected an array of non-negative integers below 2\^53 for aStrides but received element 1 = -1/);
  for (const t of [a, b, c, d]) t.dispose();
});

test('add / sub / mul: no leaks in a scope', () => {
  assertNoLeak('arithmetic', () => {
    scope(() => {
      const a = tensor([1, 2, 3, 4, 5, 6], [2, 3], { device: DEVICE }).requiresGrad_();
      const b = tensor([1, 2, 3], [3], { device: DEVICE }).requiresGrad_();
      const c = tensor([2], [], { device: DEVICE }).requiresGrad_();
      const y: Tensor = mul(sub(add(a, b), c), b.reshape(1, 3));
      y.backward(tensor([1, 1, 1, 1, 1, 1], [2, 3], { device: DEVICE }));
    });
  }, 10);
});

test.run();

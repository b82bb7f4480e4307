import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { relu, scope, tensor, Rng } from '../../lib/index';
import { assertClose, assertNoLeak, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput } from '../helpers';

const golden = fixture('relu');

test('relu: forward and backward match PyTorch', () => {
  const x = fromHost(golden('x'), true);
  const y = relu(x);
  assertClose('relu forward vs torch', y, golden('y'));
  y.backward(fromHost(golden('w')));
  assertClose('relu dx vs torch', x.grad!, golden('dx'));
  x.dispose();
  y.dispose();
});

test('relu: float64 reference and finite differences', () => {
  const rng = new Rng(3);
  gradcheck({
    name: 'relu',
    rng,
    inputs: [randomInput([3, 7], rng)],
    op: ([x]) => relu(x),
    ref: ([x]) => x.map((v) => Math.max(v, 0)),
  });
});

test('relu: non-contiguous input (a permuted view)', () => {
  const x = tensor([1, -2, 3, -4, 5, -6], [2, 3], { device: DEVICE });
  const y = relu(x.permute(1, 0));
  assertClose('relu of a transposed view', y, [1, 0, 0, 5, 3, 0]);
  x.dispose();
  y.dispose();
});

test('relu: NaN propagates as in PyTorch', () => {
  // torch.relu(x) for x = [nan, -1, 0, 2, inf, -inf] is [nan, 0, 0, 2, inf, 0], and its backward
  // (threshold_backward: out <= 0 ? 0 : dout) with dout = 3 is [3, 0, 0, 3, 3, 0]: a NaN weight
  // shows in the output instead of becoming 0, and its gradient passes through.
  const x = tensor([NaN, -1, 0, 2, Infinity, -Infinity], [6], { device: DEVICE }).requiresGrad_();
  const y = relu(x);
  assert.equal(Array.from(y.toFloat32Array()).map(String), ['NaN', '0', '0', '2', 'Infinity', '0']);
  y.backward(tensor([3, 3, 3, 3, 3, 3], [6], { device: DEVICE }));
  assert.equal(Array.from(x.grad!.toFloat32Array()).map(String), ['3', '0', '0', '3', '3', '0']);
  x.dispose();
  y.dispose();
});

test('relu: rejects bad input with a clear message', () => {
  assertThrows(() => relu(tensor(BigInt64Array.from([1n]))), /relu: expected a float32 tensor for x but received an int64 tensor/);
  assertThrows(() => relu(null as never), /relu: expected a Tensor for x but received null/);
  const x = tensor([1]);
  x.dispose();
  assertThrows(() => relu(x), /relu: expected a live tensor for x but received a disposed one/);
});

test('relu: no leaks in a scope', () => {
  assertNoLeak('relu', () => {
    scope(() => {
      const x = tensor([1, -1, 2], [3], { device: DEVICE }).requiresGrad_();
      relu(x).backward(tensor([1, 1, 1], [3], { device: DEVICE }));
    });
  }, 10);
});

test.run();

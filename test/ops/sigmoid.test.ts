import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sigmoid, scope, tensor, Rng } from '../../lib/index';
import { native } from '../../lib/native';
import { assertNaNPropagates } from './harness';
import { assertClose, assertNoLeak, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput } from '../helpers';
import { sigmoidRef } from './elementwise-ref';

const golden = fixture('gelu');

test('sigmoid: forward and backward match PyTorch', () => {
  const x = fromHost(golden('sigmoid.x'), true);
  const y = sigmoid(x);
  assertClose('sigmoid forward vs torch', y, golden('sigmoid.y'));
  y.backward(fromHost(golden('sigmoid.w')));
  assertClose('sigmoid dx vs torch', x.grad!, golden('sigmoid.dx'));
  x.dispose();
  y.dispose();
});

test('sigmoid: float64 reference and finite differences', () => {
  const rng = new Rng(6);
  gradcheck({
    name: 'sigmoid',
    rng,
    inputs: [randomInput([5, 7], rng, 3)],
    op: ([x]) => sigmoid(x),
    ref: ([x]) => x.map(sigmoidRef),
  });
});

test('sigmoid: saturates without overflow', () => {
  const x = tensor([-200, -30, 0, 30, 200], [5], { device: DEVICE });
  const y = sigmoid(x).toFloat32Array();
  assert.is(y[0], 0);
  assert.ok(Math.abs(y[1] - sigmoidRef(-30)) <= 1e-6 * sigmoidRef(-30), `sigmoid(-30) = ${y[1]}`);
  assert.is(y[2], 0.5);
  assert.is(y[3], 1);
  assert.is(y[4], 1);
  x.dispose();
});

test('sigmoid: NaN propagates (as PyTorch): sigmoid(NaN) and its gradient are NaN', () => assertNaNPropagates(sigmoid));

test('sigmoid: rejects bad input with a clear message', () => {
  assertThrows(() => sigmoid(tensor(BigInt64Array.from([1n]))), /sigmoid: expected a float32 tensor for x but received an int64 tensor/);
  assertThrows(() => sigmoid(3 as never), /sigmoid: expected a Tensor for x but received 3/);
  const s = tensor([1, 2, 3]);
  assertThrows(() => native.sigmoid_backward(s.storage, s.storage, 'x' as never, 3), /sigmoid_backward: expected a Storage for out but received a string/);
  s.dispose();
});

test('sigmoid: no leaks in a scope', () => {
  assertNoLeak('sigmoid', () => {
    scope(() => {
      const x = tensor([1, -1, 2], [3], { device: DEVICE }).requiresGrad_();
      sigmoid(x).backward(tensor([1, 1, 1], [3], { device: DEVICE }));
    });
  }, 10);
});

test.run();

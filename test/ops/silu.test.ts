import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { silu, scope, tensor, Rng } from '../../lib/index';
import { native } from '../../lib/native';
import { assertThrows, DEVICE, fixture, gradcheck, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope, onesOn, assertNaNPropagates } from './harness';
import { sigmoidRef } from './elementwise-ref';

const golden = fixture('silu');
const siluRef = (x: number): number => x * sigmoidRef(x);

test('silu: forward and backward match PyTorch', () => {
  assertMatchesTorch({ golden, prefix: 'silu', name: 'silu', grads: { x: 'dx' } }, ({ x }) => silu(x));
});

test('silu: float64 reference and finite differences', () => {
  const rng = new Rng(7);
  gradcheck({
    name: 'silu',
    rng,
    inputs: [randomInput([5, 7], rng, 3)],
    op: ([x]) => silu(x),
    ref: ([x]) => x.map(siluRef),
  });
});

test('silu: saturates without overflow and keeps a non-contiguous input in order', () => {
  const vals = [-200, -30, 0, 30, 200, -1];
  const x = tensor(vals, [2, 3], { device: DEVICE });
  const y = silu(x.permute(1, 0)).toFloat32Array();
  const order = [0, 3, 1, 4, 2, 5];
  order.forEach((k, i) => {
    const e = siluRef(vals[k]);
    assert.ok(Math.abs(y[i] - e) <= 1e-6 * Math.abs(e) + 1e-30, `silu(${vals[k]}) = ${y[i]}, expected ${e}`);
  });
  x.dispose();
});

test('silu: NaN propagates (as PyTorch): silu(NaN) and its gradient are NaN', () => assertNaNPropagates(silu));

test('silu: rejects bad input with a clear message', () => {
  assertThrows(() => silu(tensor(BigInt64Array.from([1n]))), /silu: expected a float32 tensor for x but received an int64 tensor/);
  assertThrows(() => silu(3 as never), /silu: expected a Tensor for x but received 3/);
  const s = tensor([1, 2, 3]);
  assertThrows(() => native.silu_forward(s.storage, s.storage, 4), /silu_forward: expected a storage of at least 4 elements for out but received one of 3/);
  assertThrows(() => native.silu_backward(s.storage, s.storage, 'x' as never, 3), /silu_backward: expected a Storage for inp but received a string/);
  s.dispose();
});

test('silu: no leaks in a scope', () => {
  assertNoLeakInScope('silu', () => {
    const x = tensor([1, -1, 2, 0.5], [2, 2], { device: DEVICE }).requiresGrad_();
    silu(x.permute(1, 0)).backward(onesOn([2, 2]));
  }, 10);
});

test.run();

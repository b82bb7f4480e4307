import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { globalAvgPool, tensor, Rng } from '../../lib/index';
import { assertThrows, DEVICE, fixture, gradcheck, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope } from './harness';
import { sumRef } from './elementwise-ref';

const golden = fixture('reduce');

test('globalAvgPool: forward and backward match PyTorch adaptive_avg_pool2d(x, 1)', () => {
  assertMatchesTorch({ golden, prefix: 'avgpool', name: 'globalAvgPool', out: 'out', grads: { x: 'dx' } }, ({ x }) => {
    const y = globalAvgPool(x);
    assert.equal([...y.shape], [2, 3, 1, 1]);
    return y;
  });
});

test('globalAvgPool: float64 reference and finite differences', () => {
  const rng = new Rng(13);
  for (const shape of [[2, 3, 4, 5], [1, 2, 1, 1], [3, 1, 7, 2]]) {
    gradcheck({
      name: `globalAvgPool ${JSON.stringify(shape)}`,
      rng,
      inputs: [randomInput(shape, rng)],
      op: ([x]) => globalAvgPool(x),
      ref: ([x]) => sumRef(shape, x, [2, 3], 1 / (shape[2] * shape[3])),
    });
  }
  // a permuted (NHWC-stored) input
  gradcheck({
    name: 'globalAvgPool of a permuted view',
    rng,
    inputs: [randomInput([2, 4, 5, 3], rng)],
    op: ([x]) => globalAvgPool(x.permute(0, 3, 1, 2)),
    ref: ([x]) => {
      const out = new Float64Array(6);
      for (let i = 0; i < x.length; i++) out[Math.floor(i / 60) * 3 + (i % 3)] += x[i] / 20;
      return out;
    },
  });
});

test('globalAvgPool: rejects bad input with a clear message', () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [1, 2, 3]);
  assertThrows(() => globalAvgPool(x), /globalAvgPool: expected a 4-d tensor for x but received shape \(1, 2, 3\)/);
  const e = tensor([], [1, 2, 0, 3]);
  assertThrows(() => globalAvgPool(e), /globalAvgPool: expected a non-empty spatial size \(H \* W > 0\) for x but received shape \(1, 2, 0, 3\)/);
  for (const t of [x, e]) t.dispose();
});

test('globalAvgPool: no leaks in a scope', () => {
  assertNoLeakInScope('globalAvgPool', () => {
    const x = tensor(new Float32Array(24).map((_, i) => i), [1, 2, 3, 4], { device: DEVICE }).requiresGrad_();
    globalAvgPool(x).backward(tensor([1, 2], [1, 2, 1, 1], { device: DEVICE }));
  }, 10);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { avgPool2d, globalAvgPool, tensor, Rng } from '../../lib/index';
import { assertThrows, DEVICE, fixture, gradcheck, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope, onesOn, randomTensors } from './harness';
import { sumRef } from './elementwise-ref';

const golden = fixture('reduce');
const pools = fixture('pool');

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

// case, kernel (as in gen_pool.py)
const avgCases: [string, number | [number, number]][] = [['square', 2], ['rect', [3, 2]], ['gp', 7]];

test('avgPool2d: forward and gradient match PyTorch nn.AvgPool2d(kernel) (stride = kernel)', () => {
  for (const [c, k] of avgCases)
    assertMatchesTorch({ golden: pools, prefix: `avg.${c}`, name: `avgPool2d ${c}`, grads: { x: 'dx' } }, ({ x }) => avgPool2d(x, k));
});

// The mean of each kh x kw window of x (N, C, H, W), windows tiling the map.
function refAvgPool(x: Float64Array, [N, C, H, W]: number[], kh: number, kw: number): Float64Array {
  const Ho = H / kh, Wo = W / kw;
  const y = new Float64Array(N * C * Ho * Wo);
  for (let p = 0; p < N * C; p++)
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) y[(p * Ho + Math.floor(i / kh)) * Wo + Math.floor(j / kw)] += x[(p * H + i) * W + j] / (kh * kw);
  return y;
}

test('avgPool2d: float64 reference and finite differences', () => {
  const rng = new Rng(14);
  for (const [shape, kh, kw] of [[[2, 3, 4, 6], 2, 3], [[1, 2, 7, 7], 7, 7], [[3, 1, 2, 5], 1, 5], [[1, 1, 3, 3], 1, 1]] as [number[], number, number][])
    gradcheck({
      name: `avgPool2d ${JSON.stringify(shape)} ${kh}x${kw}`, rng, inputs: [randomInput(shape, rng)],
      op: ([x]) => avgPool2d(x, [kh, kw]),
      ref: ([x]) => refAvgPool(x, shape, kh, kw),
    });
});

test('avgPool2d: rejects bad input with a clear message', () => {
  const x = tensor(new Float32Array(24), [1, 2, 3, 4], { device: DEVICE });
  assertThrows(() => avgPool2d(x, 2), /avgPool2d: expected a non-empty map whose height and width are multiples of the kernel 2 x 2 for x but received shape \(1, 2, 3, 4\)/);
  assertThrows(() => avgPool2d(x, 0), /avgPool2d: expected a positive integer or a pair \[h, w\] of them for kernel but received 0/);
  assertThrows(() => avgPool2d(tensor([1], [1, 1, 1]), 1), /avgPool2d: expected a 4-d tensor for x but received shape \(1, 1, 1\)/);
  avgPool2d(x, [3, 2]).dispose(); // the valid call
  x.dispose();
});

test('avgPool2d: no leaks in a scope', () => {
  assertNoLeakInScope('avgPool2d', () => {
    const [x] = randomTensors(new Rng(15), [2, 3, 4, 6]);
    avgPool2d(x, 2).backward(onesOn([2, 3, 2, 3]));
  }, 5);
});

test.run();

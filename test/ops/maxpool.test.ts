import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxPool2d, noGrad, Rng, scope, tensor } from '../../lib/index';
import { assertClose, assertThrows, DEVICE, fixture, gradcheck, liveStorages, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope, onesOn, randomTensors } from './harness';

const golden = fixture('pool');

type Pair = [number, number];
// case, kernel, stride, padding (as in gen_pool.py)
const cases: [string, Pair, Pair, Pair][] = [
  ['stem', [3, 3], [2, 2], [1, 1]],
  ['k2', [2, 2], [2, 2], [0, 0]],
  ['rect', [2, 3], [1, 2], [1, 1]],
  ['ties', [3, 3], [2, 2], [1, 1]],
];

test('maxPool2d: forward and gradient match PyTorch (3x3 s2 p1, 2x2, non-square windows, ties)', () => {
  for (const [c, k, stride, padding] of cases)
    assertMatchesTorch({ golden, prefix: `max.${c}`, name: `maxPool2d ${c}`, grads: { x: 'dx' } }, ({ x }) => maxPool2d(x, k, { stride, padding }));
});

// Max pooling in float64 with -infinity padding; the first maximum of a window wins.
function refMaxPool(x: Float64Array, [N, C, H, W]: number[], [kh, kw]: Pair, [sh, sw]: Pair, [ph, pw]: Pair): Float64Array {
  const Ho = Math.floor((H + 2 * ph - kh) / sh) + 1, Wo = Math.floor((W + 2 * pw - kw) / sw) + 1;
  const y = new Float64Array(N * C * Ho * Wo);
  for (let p = 0; p < N * C; p++)
    for (let ho = 0; ho < Ho; ho++)
      for (let wo = 0; wo < Wo; wo++) {
        let best = -Infinity;
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const hi = ho * sh - ph + i, wi = wo * sw - pw + j;
            if (hi >= 0 && hi < H && wi >= 0 && wi < W) best = Math.max(best, x[(p * H + hi) * W + wi]);
          }
        y[(p * Ho + ho) * Wo + wo] = best;
      }
  return y;
}

test('maxPool2d: float64 reference and finite differences', () => {
  const rng = new Rng(51);
  const configs: [number[], Pair, Pair, Pair][] = [
    [[2, 3, 9, 10], [3, 3], [2, 2], [1, 1]],
    [[1, 2, 5, 7], [2, 3], [3, 1], [1, 0]],
    [[2, 1, 4, 4], [1, 1], [1, 1], [0, 0]],
    [[1, 2, 6, 5], [4, 2], [4, 3], [2, 1]],
  ];
  for (const [shape, k, s, p] of configs)
    gradcheck({
      name: `maxPool2d ${JSON.stringify(shape)} k${k} s${s} p${p}`, rng, inputs: [randomInput(shape, rng)],
      op: ([x]) => maxPool2d(x, k, { stride: s, padding: p }),
      ref: ([x]) => refMaxPool(x, shape, k, s, p),
    });
  // a permuted (strided) input is read through a dense copy
  const shape = [2, 3, 6, 6];
  gradcheck({
    name: 'maxPool2d of a permuted view', rng, inputs: [randomInput([2, 6, 6, 3], rng)],
    op: ([x]) => maxPool2d(x.permute(0, 3, 1, 2), 3, { stride: 2, padding: 1 }),
    ref: ([x]) => {
      const nchw = new Float64Array(x.length);
      for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let i = 0; i < 36; i++) nchw[(n * 3 + c) * 36 + i] = x[(n * 36 + i) * 3 + c];
      return refMaxPool(nchw, shape, [3, 3], [2, 2], [1, 1]);
    },
  });
});

test('maxPool2d: the stride defaults to the kernel; no indices are kept without gradients', () => {
  scope(() => {
    const [x] = randomTensors(new Rng(52), [2, 3, 8, 6]);
    assertClose('default stride', maxPool2d(x, 2), maxPool2d(x, 2, { stride: 2 }), { rtol: 0, atol: 0 });
    const before = liveStorages();
    const y = noGrad(() => maxPool2d(x, 3, { stride: 2, padding: 1 }));
    assert.equal(y.gradFn, null);
    assert.is(liveStorages().cpuBuffers + liveStorages().cudaBuffers, before.cpuBuffers + before.cudaBuffers + 1, 'only the output');
  });
});

test('maxPool2d: NaN wins its windows and takes their gradient, as in PyTorch', () => {
  scope(() => {
    const x = tensor([1, NaN, 3, 2], [1, 1, 2, 2], { device: DEVICE }).requiresGrad_();
    const y = maxPool2d(x, 2);
    y.backward(onesOn([1, 1, 1, 1]));
    assert.ok(Number.isNaN(y.item()));
    assert.equal(Array.from(x.grad!.toFloat32Array()), [0, 1, 0, 0]);
  });
});

test('maxPool2d: rejects bad input with a clear message', () => {
  const x = tensor(new Float32Array(2 * 3 * 4 * 5), [2, 3, 4, 5], { device: DEVICE });
  assertThrows(() => maxPool2d(tensor([1, 2], [1, 2]), 2), /maxPool2d: expected a 4-d tensor for x but received shape \(1, 2\)/);
  assertThrows(() => maxPool2d(x, 0), /maxPool2d: expected an integer >= 1 or a pair \[h, w\] of them for kernel but received 0/);
  assertThrows(() => maxPool2d(x, [2, 2, 2] as never), /maxPool2d: expected an integer >= 1 or a pair \[h, w\] of them for kernel but received/);
  assertThrows(() => maxPool2d(x, 3, { padding: 2 }), /maxPool2d: expected at most half the kernel 3 x 3 for padding but received 2/);
  assertThrows(() => maxPool2d(x, 3, { stride: 0 }), /maxPool2d: expected an integer >= 1 or a pair \[h, w\] of them for stride but received 0/);
  assertThrows(() => maxPool2d(x, [5, 2]), /maxPool2d: expected a window no larger than the padded input 4 x 5 for kernel but received \[5, 2\]/);
  assertThrows(() => maxPool2d(x, 2, null as never), /maxPool2d: expected an object for options but received null/);
  const empty = tensor([], [1, 2, 0, 3], { device: DEVICE });
  assertThrows(() => maxPool2d(empty, 1), /maxPool2d: expected a map of at least 1 x 1 for x but received shape \(1, 2, 0, 3\)/);
  for (const t of [x, empty]) t.dispose();
});

test('maxPool2d: an empty batch gives an empty output and gradient', () => {
  scope(() => {
    const x = tensor([], [0, 3, 4, 4], { device: DEVICE }).requiresGrad_();
    const y = maxPool2d(x, 3, { stride: 2, padding: 1 });
    assert.equal([...y.shape], [0, 3, 2, 2]);
    y.backward(onesOn([0, 3, 2, 2]));
    assert.equal([...x.grad!.shape], [0, 3, 4, 4]);
  });
});

test('maxPool2d: no leaks in a scope', () => {
  assertNoLeakInScope('maxPool2d', () => {
    const [x] = randomTensors(new Rng(53), [2, 3, 9, 9]);
    maxPool2d(x, 3, { stride: 2, padding: 1 }).backward(onesOn([2, 3, 5, 5]));
  }, 5);
});

test.run();

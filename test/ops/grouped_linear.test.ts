import { test } from 'uvu';
import { groupedLinear, Rng, tensor } from '../../lib/index';
import { assertThrows, DEVICE, fixture, gradcheck, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope, onesOn, randomTensors } from './harness';

const golden = fixture('grouped_linear');

// case, groups (as in gen_grouped_linear.py)
const cases: [string, number, boolean][] = [['g1', 1, false], ['g4', 4, true], ['wide', 2, true]];

test('groupedLinear: forward and every gradient match PyTorch grouped 1x1 convs', () => {
  for (const [c, G, bias] of cases)
    assertMatchesTorch({ golden, prefix: c, name: `groupedLinear ${c}`, grads: { x: 'dx', weight: 'dweight', ...(bias ? { bias: 'dbias' } : {}) } },
      ({ x, weight, bias: b }) => groupedLinear(x, weight, b ?? null, G));
});

// y[r, g*M + m] = bias[g*M + m] + sum_k W[g*M + m, k] * x[r, g*K + k]
function refGrouped(x: Float64Array, W: Float64Array, bias: Float64Array | null, R: number, G: number, K: number, M: number): Float64Array {
  const y = new Float64Array(R * G * M);
  for (let r = 0; r < R; r++)
    for (let g = 0; g < G; g++)
      for (let m = 0; m < M; m++) {
        let acc = bias ? bias[g * M + m] : 0;
        for (let k = 0; k < K; k++) acc += W[(g * M + m) * K + k] * x[r * G * K + g * K + k];
        y[r * G * M + g * M + m] = acc;
      }
  return y;
}

test('groupedLinear: float64 reference and finite differences', () => {
  const rng = new Rng(61);
  for (const [R, G, K, M, bias] of [[4, 2, 3, 5, true], [1, 3, 4, 2, false], [6, 1, 7, 3, true], [3, 4, 1, 1, false]] as const) {
    const inputs = [randomInput([R, G * K], rng), randomInput([G * M, K], rng)];
    if (bias) inputs.push(randomInput([G * M], rng));
    gradcheck({
      name: `groupedLinear R=${R} G=${G} K=${K} M=${M}${bias ? ' bias' : ''}`, rng, inputs,
      op: ([x, W, b]) => groupedLinear(x, W, b ?? null, G),
      ref: ([x, W, b]) => refGrouped(x, W, b ?? null, R, G, K, M),
    });
  }
  // a transposed (strided) input is read through a dense copy
  gradcheck({
    name: 'groupedLinear of a transposed view', rng, inputs: [randomInput([6, 3], rng), randomInput([4, 3], rng)],
    op: ([xt, W]) => groupedLinear(xt.permute(1, 0), W, null, 2),
    ref: ([xt, W]) => {
      const x = new Float64Array(18);
      for (let i = 0; i < 6; i++) for (let r = 0; r < 3; r++) x[r * 6 + i] = xt[i * 3 + r];
      return refGrouped(x, W, null, 3, 2, 3, 2);
    },
  });
});

test('groupedLinear: rejects bad input with a clear message', () => {
  const x = tensor(new Float32Array(2 * 6), [2, 6], { device: DEVICE });
  const w = tensor(new Float32Array(8 * 3), [8, 3], { device: DEVICE });
  const b = tensor(new Float32Array(4), [4], { device: DEVICE });
  assertThrows(() => groupedLinear(x, w, null, 3), /groupedLinear: expected a row count divisible by groups 3 for weight but received shape \(8, 3\)/);
  assertThrows(() => groupedLinear(x, w, null, 4), /groupedLinear: expected 12 columns \(groups 4 x the weight's 3\) for x but received shape \(2, 6\)/);
  assertThrows(() => groupedLinear(x, w, b, 2), /groupedLinear: expected shape \(8\) for bias but received shape \(4\)/);
  assertThrows(() => groupedLinear(x, w, null, 0), /groupedLinear: expected an integer >= 1 for groups but received 0/);
  assertThrows(() => groupedLinear(tensor([1, 2], [2]), w, null, 2), /groupedLinear: expected a 2-d tensor for x but received shape \(2\)/);
  groupedLinear(x, w, null, 2).dispose(); // the valid call
  for (const t of [x, w, b]) t.dispose();
});

test('groupedLinear: no leaks in a scope', () => {
  assertNoLeakInScope('groupedLinear', () => {
    const [x, w, b] = randomTensors(new Rng(62), [3, 8], [6, 4], [6]);
    groupedLinear(x, w, b, 2).backward(onesOn([3, 6]));
  }, 5);
});

test.run();

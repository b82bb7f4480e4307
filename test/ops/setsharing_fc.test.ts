import { test } from 'uvu';
import { Rng, setSharingFc, tensor } from '../../lib/index';
import { assertThrows, DEVICE, fixture, gradcheck, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope, onesOn, randomTensors } from './harness';

const golden = fixture('setsharing_fc');

// case, S, h, w (as in gen_setsharing_fc.py)
const cases: [string, number, number, number][] = [['s1', 1, 4, 4], ['s4', 4, 3, 3], ['rect', 4, 2, 5], ['bias', 2, 3, 4]];

test('setSharingFc: forward and every gradient match PyTorch (S = 1, S = 4, h != w, bias)', () => {
  for (const [c, S, h, w] of cases)
    assertMatchesTorch({ golden, prefix: c, name: `setSharingFc ${c}`, grads: { x: 'dx', weight: 'dweight', ...(c === 'bias' ? { bias: 'dbias' } : {}) } },
      ({ x, weight, bias }) => setSharingFc(x, weight, S, h, w, bias ?? null));
});

// x and y read as (R, S*hw): y[r, s*hw + q] = bias[s*hw + q] + sum_p W[s*hw + q, p] * x[r, s*hw + p]
function refSetSharing(x: Float64Array, W: Float64Array, bias: Float64Array | null, S: number, hw: number): Float64Array {
  const ld = S * hw, R = x.length / ld;
  const y = new Float64Array(x.length);
  for (let r = 0; r < R; r++)
    for (let s = 0; s < S; s++)
      for (let q = 0; q < hw; q++) {
        let acc = bias ? bias[s * hw + q] : 0;
        for (let p = 0; p < hw; p++) acc += W[(s * hw + q) * hw + p] * x[r * ld + s * hw + p];
        y[r * ld + s * hw + q] = acc;
      }
  return y;
}

test('setSharingFc: float64 reference and finite differences', () => {
  const rng = new Rng(41);
  for (const [B, C, S, h, w, bias] of [[2, 6, 3, 2, 3, true], [3, 4, 1, 3, 2, false], [1, 8, 8, 1, 2, true]] as const) {
    const hw = h * w;
    const inputs = [randomInput([B, C, h, w], rng), randomInput([S * hw, hw, 1, 1], rng)];
    if (bias) inputs.push(randomInput([S * hw], rng));
    gradcheck({
      name: `setSharingFc B=${B} C=${C} S=${S} ${h}x${w}${bias ? ' bias' : ''}`, rng, inputs,
      op: ([x, W, b]) => setSharingFc(x, W, S, h, w, b ?? null),
      ref: ([x, W, b]) => refSetSharing(x, W, b ?? null, S, hw),
    });
  }
});

test('setSharingFc: rejects bad input with a clear message', () => {
  const x = tensor(new Float32Array(2 * 6 * 2 * 3), [2, 6, 2, 3], { device: DEVICE });
  const w = tensor(new Float32Array(4 * 6 * 6), [24, 6, 1, 1], { device: DEVICE });
  const b = tensor(new Float32Array(12), [12], { device: DEVICE });
  assertThrows(() => setSharingFc(x, w, 4, 2, 3), /setSharingFc: expected a channel count divisible by S = 4 for x but received shape \(2, 6, 2, 3\)/);
  assertThrows(() => setSharingFc(x, w, 3, 2, 3), /setSharingFc: expected shape \(18, 6, 1, 1\) for weight but received shape \(24, 6, 1, 1\)/);
  assertThrows(() => setSharingFc(x, w, 2, 3, 2), /setSharingFc: expected shape \(\*, \*, 3, 2\) for x but received shape \(2, 6, 2, 3\)/);
  assertThrows(() => setSharingFc(x, w, 0, 2, 3), /setSharingFc: expected an integer >= 1 for S but received 0/);
  assertThrows(() => setSharingFc(x, w, 2, 2.5, 3), /setSharingFc: expected an integer >= 1 for h but received 2.5/);
  const w2 = tensor(new Float32Array(2 * 6 * 6), [12, 6, 1, 1], { device: DEVICE });
  const b2 = tensor([1, 2], [2], { device: DEVICE });
  assertThrows(() => setSharingFc(x, w2, 2, 2, 3, b2), /setSharingFc: expected shape \(12\) for bias but received shape \(2\)/);
  setSharingFc(x, w2, 2, 2, 3, b).dispose(); // the valid call
  for (const t of [x, w, w2, b, b2]) t.dispose();
});

test('setSharingFc: no leaks in a scope', () => {
  assertNoLeakInScope('setSharingFc', () => {
    const [x, w, b] = randomTensors(new Rng(42), [2, 4, 2, 3], [12, 6, 1, 1], [12]);
    setSharingFc(x, w, 2, 2, 3, b).backward(onesOn([2, 4, 2, 3]));
  }, 5);
});

test.run();

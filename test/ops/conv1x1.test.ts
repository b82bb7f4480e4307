import { test } from 'uvu';
import { conv1x1, Rng, tensor } from '../../lib/index';
import { native } from '../../lib/native';
import { assertClose, assertThrows, DEVICE, fixture, gradcheck, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope, onesOn, randomTensors } from './harness';

const golden = fixture('conv1x1');

test('conv1x1: forward and every gradient match PyTorch (with and without bias)', () => {
  for (const c of ['bias', 'nobias'])
    assertMatchesTorch({ golden, prefix: c, name: `conv1x1 ${c}`, grads: { x: 'dx', weight: 'dweight', ...(c === 'bias' ? { bias: 'dbias' } : {}) } },
      ({ x, weight, bias }) => conv1x1(x, weight, bias ?? null));
});

// y[n, o, p] = sum_i w[o, i] * x[n, i, p] + b[o]
function refConv1x1(x: Float64Array, w: Float64Array, b: Float64Array | null, N: number, Cin: number, Cout: number, HW: number) {
  const y = new Float64Array(N * Cout * HW);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < Cout; o++)
      for (let p = 0; p < HW; p++) {
        let s = b ? b[o] : 0;
        for (let i = 0; i < Cin; i++) s += w[o * Cin + i] * x[(n * Cin + i) * HW + p];
        y[(n * Cout + o) * HW + p] = s;
      }
  return y;
}

test('conv1x1: float64 reference and finite differences', () => {
  const rng = new Rng(31);
  gradcheck({
    name: 'conv1x1', rng,
    inputs: [randomInput([3, 5, 2, 3], rng), randomInput([4, 5, 1, 1], rng), randomInput([4], rng)],
    op: ([x, w, b]) => conv1x1(x, w, b),
    ref: ([x, w, b]) => refConv1x1(x, w, b, 3, 5, 4, 6),
  });
  gradcheck({
    name: 'conv1x1 without bias', rng,
    inputs: [randomInput([2, 7, 3, 1], rng), randomInput([9, 7, 1, 1], rng)],
    op: ([x, w]) => conv1x1(x, w),
    ref: ([x, w]) => refConv1x1(x, w, null, 2, 7, 9, 3),
  });
});

test('bias_grad: sums over N and HW in the native kernel', () => {
  const rng = new Rng(32);
  for (const [N, C, HW] of [[5, 3, 1000], [300, 17, 1], [0, 4, 3], [2, 0, 5]]) {
    const d = Float32Array.from({ length: N * C * HW }, () => rng.normal());
    const dout = tensor(d, [N * C * HW], { device: DEVICE });
    const db = tensor(new Float32Array(C).fill(NaN), [C], { device: DEVICE });
    native.bias_grad(db.storage, dout.storage, N, C, HW);
    const want = new Float64Array(C);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) want[c] += d[(n * C + c) * HW + p];
    assertClose(`bias_grad (${N}, ${C}, ${HW})`, db, want);
    dout.dispose();
    db.dispose();
  }
  const s = new native.Storage(DEVICE, 'float32', 10);
  assertThrows(() => native.bias_grad(s, s, 2, 3, 2), /bias_grad: expected a storage of at least 12 elements for dout but received one of 10/);
  assertThrows(() => native.bias_grad(s, s, 2, 11, 0), /bias_grad: expected a storage of at least 11 elements for dbias but received one of 10/);
  assertThrows(() => native.bias_grad(s, s, 2.5, 3, 1), /bias_grad: expected a non-negative integer below 2\^53 for N but received 2.5/);
  s.dispose();
});

test('conv1x1: rejects bad input with a clear message', () => {
  const x = tensor(new Float32Array(24), [2, 3, 2, 2], { device: DEVICE });
  const w = tensor(new Float32Array(12), [4, 3, 1, 1], { device: DEVICE });
  const w3 = tensor(new Float32Array(36), [4, 3, 3, 1], { device: DEVICE });
  const wc = tensor(new Float32Array(8), [4, 2, 1, 1], { device: DEVICE });
  const b = tensor(new Float32Array(3), [3], { device: DEVICE });
  assertThrows(() => conv1x1(x, w3), /conv1x1: expected shape \(\*, 3, 1, 1\) for weight but received shape \(4, 3, 3, 1\)/);
  assertThrows(() => conv1x1(x, wc), /conv1x1: expected shape \(\*, 3, 1, 1\) for weight but received shape \(4, 2, 1, 1\)/);
  assertThrows(() => conv1x1(x, w, b), /conv1x1: expected shape \(4\) for bias but received shape \(3\)/);
  assertThrows(() => conv1x1(b, w), /conv1x1: expected a 4-d tensor for x but received shape \(3\)/);
  for (const t of [x, w, w3, wc, b]) t.dispose();
});

test('conv1x1: no leaks in a scope', () => {
  assertNoLeakInScope('conv1x1', () => {
    const [x, w, b] = randomTensors(new Rng(33), [2, 3, 2, 2], [4, 3, 1, 1], [4]);
    conv1x1(x, w, b).backward(onesOn([2, 4, 2, 2]));
  }, 5);
});

test.run();

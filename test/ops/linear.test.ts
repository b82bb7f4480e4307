import { test } from 'uvu';
import { linear, Rng, tensor } from '../../lib/index';
import { assertThrows, DEVICE, fixture, gradcheck, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope, onesOn, randomTensors } from './harness';

const golden = fixture('linear');

test('linear: forward and every gradient match PyTorch (with and without bias)', () => {
  for (const c of ['bias', 'nobias'])
    assertMatchesTorch({ golden, prefix: c, name: `linear ${c}`, grads: { x: 'dx', weight: 'dweight', ...(c === 'bias' ? { bias: 'dbias' } : {}) } },
      ({ x, weight, bias }) => linear(x, weight, bias ?? null));
});

// y (N, out) = x (N, in) @ weight^T (in, out) + bias
function refLinear(x: Float64Array, w: Float64Array, b: Float64Array | null, N: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(N * outF);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[n * inF + i] * w[o * inF + i];
      y[n * outF + o] = s;
    }
  return y;
}

test('linear: float64 reference and finite differences', () => {
  const rng = new Rng(21);
  gradcheck({
    name: 'linear', rng,
    inputs: [randomInput([5, 13], rng), randomInput([7, 13], rng), randomInput([7], rng)],
    op: ([x, w, b]) => linear(x, w, b),
    ref: ([x, w, b]) => refLinear(x, w, b, 5, 13, 7),
  });
  gradcheck({
    name: 'linear without bias, weight frozen', rng,
    inputs: [randomInput([4, 3], rng), randomInput([6, 3], rng, 1, false)],
    op: ([x, w]) => linear(x, w),
    ref: ([x, w]) => refLinear(x, w, null, 4, 3, 6),
  });
  // A transposed view of x reaches the GEMM as a transposed operand.
  gradcheck({
    name: 'linear of a transposed view', rng,
    inputs: [randomInput([8, 3], rng), randomInput([2, 8], rng), randomInput([2], rng)],
    op: ([x, w, b]) => linear(x.permute(1, 0), w, b),
    ref: ([x, w, b]) => {
      const xt = new Float64Array(24);
      for (let i = 0; i < 8; i++) for (let n = 0; n < 3; n++) xt[n * 8 + i] = x[i * 3 + n];
      return refLinear(xt, w, b, 3, 8, 2);
    },
  });
});

test('linear: rejects bad input with a clear message', () => {
  const x = tensor(new Float32Array(6), [2, 3], { device: DEVICE });
  const w = tensor(new Float32Array(8), [2, 4], { device: DEVICE });
  const w3 = tensor(new Float32Array(12), [4, 3], { device: DEVICE });
  const b = tensor(new Float32Array(3), [3], { device: DEVICE });
  assertThrows(() => linear(x, w), /linear: expected shape \(\*, 3\) for weight but received shape \(2, 4\)/);
  assertThrows(() => linear(x, w3, b), /linear: expected shape \(4\) for bias but received shape \(3\)/);
  assertThrows(() => linear(b, w3), /linear: expected a 2-d tensor for x but received shape \(3\)/);
  assertThrows(() => linear(x, undefined as never), /linear: expected a Tensor for weight but received undefined/);
  for (const t of [x, w, w3, b]) t.dispose();
});

test('linear: no leaks in a scope', () => {
  assertNoLeakInScope('linear', () => {
    const [x, w, b] = randomTensors(new Rng(22), [3, 4], [5, 4], [5]);
    linear(x, w, b).backward(onesOn([3, 5]));
  }, 5);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crossEntropy, scope, tensor, Rng, type Tensor } from '../../lib/index';
import { native } from '../../lib/native';
import { assertClose, assertNoLeak, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput, liveStorages } from '../helpers';

const golden = fixture('cross_entropy');

const cases: [string, number][] = [
  ['hard', 0],
  ['smooth', 0.1],
  ['soft', 0],
  ['soft_smooth', 0.1],
  ['large', 0.1],
  ['wide', 0.1],
];

for (const [name, eps] of cases) {
  test(`crossEntropy: ${name} (labelSmoothing ${eps}) matches PyTorch`, () => {
    const x = fromHost(golden(`${name}.logits`), true);
    const t = fromHost(golden(`${name}.target`));
    const loss = crossEntropy(x, t, { labelSmoothing: eps });
    assert.equal([...loss.shape], []);
    assertClose(`crossEntropy ${name} loss vs torch`, loss, golden(`${name}.loss`));
    const w = fromHost(golden(`${name}.w`));
    loss.backward(w);
    assertClose(`crossEntropy ${name} dlogits vs torch`, x.grad!, golden(`${name}.dlogits`));
    for (const u of [x, t, loss, w]) u.dispose();
  });
}

// float64 reference: mean_i sum_k q_ik (lse_i - x_ik)
function ceRef(x: Float64Array, N: number, K: number, q: (i: number, k: number) => number): Float64Array {
  let total = 0;
  for (let i = 0; i < N; i++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, x[i * K + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(x[i * K + k] - m);
    const lse = m + Math.log(s);
    for (let k = 0; k < K; k++) total += q(i, k) * (lse - x[i * K + k]);
  }
  return Float64Array.of(total / N);
}

test('crossEntropy: class indices vs float64 reference and finite differences', () => {
  const rng = new Rng(5);
  const N = 5, K = 7, eps = 0.2;
  const labels = Array.from({ length: N }, () => rng.int(K));
  const target = tensor(BigInt64Array.from(labels, BigInt), [N], { device: DEVICE });
  gradcheck({
    name: 'crossEntropy hard',
    rng,
    inputs: [randomInput([N, K], rng, 2)],
    op: ([x]) => crossEntropy(x, target, { labelSmoothing: eps }),
    ref: ([x]) => ceRef(x, N, K, (i, k) => (1 - eps) * (k === labels[i] ? 1 : 0) + eps / K),
  });
  target.dispose();
});

test('crossEntropy: soft targets vs float64 reference and finite differences', () => {
  const rng = new Rng(6);
  const N = 4, K = 6, eps = 0.1;
  // targets that do not sum to one exercise the sum(q) term of the gradient
  const tin = randomInput([N, K], rng, 1, false);
  tin.data.forEach((v, i) => (tin.data[i] = Math.fround(Math.abs(v))));
  gradcheck({
    name: 'crossEntropy soft',
    rng,
    inputs: [randomInput([N, K], rng, 2), tin],
    op: ([x, t]) => crossEntropy(x, t, { labelSmoothing: eps }),
    ref: ([x, t]) => ceRef(x, N, K, (i, k) => (1 - eps) * t[i * K + k] + eps / K),
  });
});

test('crossEntropy: non-contiguous logits (a transposed view)', () => {
  const xt = tensor([1, -2, 0.5, 3, 0, -1], [3, 2], { device: DEVICE });
  const x = xt.permute(1, 0); // (2, 3): [[1, 0.5, 0], [-2, 3, -1]]
  const t = tensor(BigInt64Array.from([2n, 1n]), [2], { device: DEVICE });
  const loss = crossEntropy(x, t);
  const ref = ceRef(Float64Array.from([1, 0.5, 0, -2, 3, -1]), 2, 3, (i, k) => (k === [2, 1][i] ? 1 : 0));
  assertClose('crossEntropy of a transposed view', loss, ref);
  for (const u of [xt, x, t, loss]) u.dispose();
});

test('crossEntropy: a class index out of range is an error naming the index and K', () => {
  const x = tensor(new Float32Array(15), [3, 5], { device: DEVICE });
  const high = tensor(BigInt64Array.from([0n, 5n, 1n]), [3], { device: DEVICE });
  const low = tensor(BigInt64Array.from([0n, 1n, -1n]), [3], { device: DEVICE });
  assertThrows(() => crossEntropy(x, high), /cross_entropy_forward: expected a class index in \[0, 5\) for target\[1\] but received 5/);
  assertThrows(() => crossEntropy(x, low), /cross_entropy_forward: expected a class index in \[0, 5\) for target\[2\] but received -1/);
  for (const u of [x, high, low]) u.dispose();
});

test('crossEntropy: rejects bad shapes, dtypes and options with clear messages', () => {
  const x = tensor(new Float32Array(12), [4, 3], { device: DEVICE });
  const labels = tensor(BigInt64Array.from([0n, 1n, 2n, 0n]), [4], { device: DEVICE });
  const fl = tensor([0, 1, 2, 0], [4], { device: DEVICE });
  const short = tensor(BigInt64Array.from([0n, 1n]), [2], { device: DEVICE });
  const soft = tensor(new Float32Array(8), [4, 2], { device: DEVICE });
  const x1 = tensor([1, 2, 3], [3], { device: DEVICE });
  assertThrows(() => crossEntropy(x1, labels), /crossEntropy: expected a 2-d tensor for logits but received shape \(3\)/);
  assertThrows(() => crossEntropy(labels as never, x), /crossEntropy: expected a float32 tensor for logits but received an int64 tensor/);
  assertThrows(() => crossEntropy(x, fl), /crossEntropy: expected an int64 tensor of shape \(4\) or a float32 tensor of shape \(4, 3\) for target but received a float32 tensor of shape \(4\)/);
  assertThrows(() => crossEntropy(x, short), /crossEntropy: expected an int64 tensor of shape \(4\) or a float32 tensor of shape \(4, 3\) for target but received an int64 tensor of shape \(2\)/);
  assertThrows(() => crossEntropy(x, soft), /for target but received a float32 tensor of shape \(4, 2\)/);
  assertThrows(() => crossEntropy(x, [0, 1] as never), /crossEntropy: expected a Tensor for target but received \[0, 1\]/);
  assertThrows(() => crossEntropy(x, labels, { labelSmoothing: 1.5 }), /crossEntropy: expected a number in \[0, 1\] for labelSmoothing but received 1.5/);
  const empty = tensor(new Float32Array(0), [4, 0], { device: DEVICE });
  assertThrows(() => crossEntropy(empty, labels), /crossEntropy: expected at least one class \(K >= 1\) for logits but received shape \(4, 0\)/);
  for (const u of [x, labels, fl, short, soft, x1, empty]) u.dispose();
});

test('crossEntropy: the native bindings re-check their arguments', () => {
  const s = (n: number) => new native.Storage(DEVICE, 'float32', n);
  const loss = s(1), losses = s(4), stats = s(12), logits = s(12), small = s(5);
  const labels = new native.Storage(DEVICE, 'int64', 4);
  assertThrows(() => native.cross_entropy_forward(loss, losses, stats, small, labels, 4, 3, 0), /cross_entropy_forward: expected a storage of at least 12 elements for logits but received one of 5/);
  assertThrows(() => native.cross_entropy_forward(loss, losses, stats, logits, logits, 4, 3, 0), /cross_entropy_forward: expected an int64 storage for target but received float32/);
  assertThrows(() => native.cross_entropy_soft_backward(logits, loss, stats, logits, small, 4, 3, 0), /cross_entropy_soft_backward: expected a storage of at least 12 elements for target/);
  assertThrows(() => native.cross_entropy_backward(logits, loss, stats, logits, labels, 4, 3, -0.5), /cross_entropy_backward: expected a number in \[0, 1\] for labelSmoothing/);
  for (const u of [loss, losses, stats, logits, small, labels]) u.dispose();
});

test('crossEntropy: no leaks in a scope (with and without grad, and on a bad label)', () => {
  const run = (requiresGrad: boolean, label: bigint) =>
    scope(() => {
      const x = tensor([0.5, -1, 2, 0, 1, 1], [2, 3], { device: DEVICE }).requiresGrad_(requiresGrad);
      const t = tensor(BigInt64Array.from([1n, label]), [2], { device: DEVICE });
      const loss = crossEntropy(x, t, { labelSmoothing: 0.1 });
      if (requiresGrad) loss.backward();
      const soft = tensor([0.2, 0.3, 0.5, 1, 0, 0], [2, 3], { device: DEVICE });
      crossEntropy(x, soft);
    });
  assertNoLeak('crossEntropy', () => {
    run(true, 2n);
    run(false, 0n);
    try {
      run(true, 9n);
    } catch {
      // expected: bad label
    }
  }, 5);
  // the saved statistics are freed with the graph
  const before = liveStorages().cpuBuffers + liveStorages().cudaBuffers;
  const x = tensor([1, 2, 3, 4], [2, 2], { device: DEVICE }).requiresGrad_();
  const t = tensor(BigInt64Array.from([0n, 1n]), [2], { device: DEVICE });
  const loss: Tensor = crossEntropy(x, t);
  loss.backward();
  for (const u of [x, t, loss]) u.dispose();
  assert.is(liveStorages().cpuBuffers + liveStorages().cudaBuffers, before);
});

test.run();

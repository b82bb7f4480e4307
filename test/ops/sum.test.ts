import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mean, scope, sum, tensor, Rng } from '../../lib/index';
import { native } from '../../lib/native';
import { assertClose, assertNoLeak, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput } from '../helpers';
import { sumRef } from './elementwise-ref';

const golden = fixture('reduce');
const reductions: Record<string, [number[] | undefined, boolean]> = {
  all: [undefined, false],
  d1: [[1], false],
  d02k: [[0, 2], true],
  dm1: [[-1], false],
  d13k: [[1, 3], true],
};

for (const op of ['sum', 'mean'] as const) {
  test(`${op}: over all elements and over dimensions (with and without keepDim) matches PyTorch`, () => {
    const fn = op === 'sum' ? sum : mean;
    for (const [name, [dims, keep]] of Object.entries(reductions)) {
      const x = fromHost(golden('x'), true);
      const y = fn(x, dims, keep);
      assertClose(`${op} ${name} forward vs torch`, y, golden(`${op}.${name}.out`));
      y.backward(fromHost(golden(`${op}.${name}.w`)));
      assertClose(`${op} ${name} dx vs torch`, x.grad!, golden(`${op}.${name}.dx`));
      x.dispose();
      y.dispose();
    }
  });

  test(`${op}: float64 reference and finite differences`, () => {
    const rng = new Rng(10);
    const fn = op === 'sum' ? sum : mean;
    const shape = [3, 4, 5];
    for (const [dims, keep] of [[undefined, false], [[0], false], [[2], true], [[0, 2], false], [[-2], true]] as [number[] | undefined, boolean][]) {
      const resolved = (dims ?? [0, 1, 2]).map((d) => (d < 0 ? d + 3 : d));
      const count = resolved.reduce((c, d) => c * shape[d], 1);
      gradcheck({
        name: `${op} ${JSON.stringify(dims)} keepDim ${keep}`,
        rng,
        inputs: [randomInput(shape, rng)],
        op: ([x]) => fn(x, dims, keep),
        ref: ([x]) => sumRef(shape, x, resolved, op === 'mean' ? 1 / count : 1),
      });
    }
  });
}

test('sum: long reductions (blocked partial sums) match float64 and do not depend on the thread count', () => {
  const rng = new Rng(11);
  const cases: [number[], number[]][] = [
    [[2, 100000], [0, 1]], // one long run
    [[40000, 3], [0]], // many short rows into 3 columns
    [[5, 40000], [0]], // few long rows
    [[8, 16, 1024], [0, 2]], // per-channel, as BatchNorm's gradients
    [[3, 70000], [1]], // long runs per output
  ];
  for (const [shape, dims] of cases) {
    const xi = randomInput(shape, rng, 1, false);
    const x = tensor(Float32Array.from(xi.data), shape, { device: DEVICE });
    const y = sum(x, dims);
    assertClose(`sum ${JSON.stringify(shape)} over ${JSON.stringify(dims)} vs float64`, y, sumRef(shape, xi.data, dims), { rtol: 1e-6, atol: 1e-4 });
    const threads = native.runtimeInfo().threads;
    native.setNumThreads(1);
    const y1 = sum(x, dims);
    native.setNumThreads(threads);
    assert.equal(Array.from(y1.toFloat32Array()), Array.from(y.toFloat32Array()), 'bitwise equal with 1 thread');
    for (const t of [x, y, y1]) t.dispose();
  }
});

test('sum / mean: edge shapes (scalars, size-1 and empty dimensions)', () => {
  const s = tensor([3], [], { device: DEVICE });
  const ss = sum(s);
  assert.equal([...ss.shape], []);
  assert.is(ss.item(), 3);
  const e = tensor([], [0, 3], { device: DEVICE });
  const es = sum(e, [0]);
  assert.equal([...es.shape], [3]);
  assertClose('sum over an empty dimension', es, [0, 0, 0]);
  const em = mean(e, [0]);
  assert.ok(Array.from(em.toFloat32Array()).every(Number.isNaN), 'mean over an empty dimension is NaN');
  const o = tensor([1, 2, 3], [1, 3], { device: DEVICE });
  const os = sum(o, [0], true);
  assertClose('sum over a size-1 dimension', os, [1, 2, 3]);
  for (const t of [s, ss, e, es, em, o, os]) t.dispose();
});

test('sum / mean: reject bad input with a clear message', () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assertThrows(() => sum(x, [2]), /sum: expected dimensions in \[-2, 1\] for dims but received \[2\]/);
  assertThrows(() => mean(x, [0, -2]), /mean: expected distinct dimensions for dims but received \[0, -2\]/);
  assertThrows(() => sum(x, []), /sum: expected a non-empty array of dimensions for dims but received \[\]/);
  assertThrows(() => mean(x, [0.5]), /mean: expected dimensions in \[-2, 1\] for dims but received \[0.5\]/);
  assertThrows(() => sum(x, [0], 1 as never), /sum: expected a boolean for keepDim but received 1/);
  assertThrows(() => mean(tensor(BigInt64Array.from([1n]))), /mean: expected a float32 tensor for x but received an int64 tensor/);
  // the native side checks again
  const o = tensor([0, 0]);
  assertThrows(() => native.sum_to(o.storage, x.storage, [2, 3], [2, 2]), /sum_to: expected size 3 or 1 in dimension 1 for outShape but received 2/);
  assertThrows(() => native.sum_to(o.storage, x.storage, [2, 3], [3]), /sum_to: expected 2 dimensions like inShape for outShape but received 1/);
  assertThrows(() => native.sum_to(o.storage, x.storage, [2, 3], [1, 3]), /sum_to: expected a storage of at least 3 elements for out but received one of 2/);
  assertThrows(() => native.sum_to(o.storage, x.storage, [3, 3], [3, 1]), /sum_to: expected a storage of at least 3 elements for out but received one of 2/);
  assertThrows(() => native.sum_to(x.storage, o.storage, [3, 3], [1, 3]), /sum_to: expected a storage of at least 9 elements for inp but received one of 2/);
  for (const t of [x, o]) t.dispose();
});

test('sum / mean: no leaks in a scope', () => {
  assertNoLeak('sum / mean', () => {
    scope(() => {
      const x = tensor([1, -1, 2, 4, 5, 6], [2, 3], { device: DEVICE }).requiresGrad_();
      const y = sum(mean(x, [1], true));
      y.backward();
    });
  }, 10);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { add, expand, scope, tensor, Rng } from '../../lib/index';
import { assertClose, assertNoLeak, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput } from '../helpers';
import { expandRef } from './elementwise-ref';

const golden = fixture('reduce');

test('expand: forward and backward match PyTorch (new leading dimensions, -1)', () => {
  for (const [name, shape] of [['a', [2, 3, 4]], ['b', [5, -1]]] as const) {
    const x = fromHost(golden(`expand.${name}.x`), true);
    const y = expand(x, shape);
    assertClose(`expand ${name} forward vs torch`, y, golden(`expand.${name}.out`));
    y.backward(fromHost(golden(`expand.${name}.w`)));
    assertClose(`expand ${name} dx vs torch`, x.grad!, golden(`expand.${name}.dx`));
    x.dispose();
    y.dispose();
  }
});

test('expand: a stride-0 view of the same storage', () => {
  const x = tensor([1, 2, 3], [3, 1], { device: DEVICE });
  const y = expand(x, [2, 3, 4]);
  assert.equal([...y.shape], [2, 3, 4]);
  assert.equal([...y.strides], [0, 1, 0]);
  assert.is(y.storage, x.storage);
  for (const t of [x, y]) t.dispose();
});

test('expand: float64 reference and finite differences', () => {
  const rng = new Rng(12);
  for (const [xs, os] of [[[3, 1], [2, 3, 4]], [[1, 4, 1], [3, 4, 2]], [[2], [3, 2]]] as [number[], number[]][]) {
    gradcheck({
      name: `expand ${JSON.stringify(xs)} -> ${JSON.stringify(os)}`,
      rng,
      inputs: [randomInput(xs, rng)],
      op: ([x]) => expand(x, os),
      ref: ([x]) => expandRef(xs, os, x),
    });
  }
  // through a consumer that reads the expanded view
  gradcheck({
    name: 'expand then add',
    rng,
    inputs: [randomInput([1, 3], rng), randomInput([4, 3], rng)],
    op: ([x, y]) => add(expand(x, [4, 3]), y),
    ref: ([x, y]) => y.map((v, i) => v + x[i % 3]),
  });
});

test('expand: rejects bad shapes with a clear message', () => {
  const x = tensor([1, 2, 3], [3, 1]);
  assertThrows(() => expand(x, [4, 2]), /expand: expected size 3 \(or -1\) in dimension 0, where x's shape \(3, 1\) is not 1 for shape but received \(4, 2\)/);
  assertThrows(() => expand(x, [3]), /expand: expected at least 2 dimensions like x's shape \(3, 1\) for shape but received \(3\)/);
  assertThrows(() => expand(x, [-1, 3, 2]), /expand: expected a size for the new leading dimension 0 for shape but received -1 in \(-1, 3, 2\)/);
  assertThrows(() => expand(x, [3, -2]), /expand: expected an array of sizes \(integers >= 0, or -1 to keep a size\) for shape but received \[3, -2\]/);
  assertThrows(() => expand('x' as never, [3]), /expand: expected a Tensor for x but received 'x'/);
  x.dispose();
});

test('expand: no leaks in a scope', () => {
  assertNoLeak('expand', () => {
    scope(() => {
      const x = tensor([1, -1, 2], [3, 1], { device: DEVICE }).requiresGrad_();
      expand(x, [2, 3, 2]).backward(tensor(new Float32Array(12).fill(1), [2, 3, 2], { device: DEVICE }));
    });
  }, 10);
});

test.run();

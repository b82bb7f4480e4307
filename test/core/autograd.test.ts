import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { add, mul, mulScalar, noGrad, relu, scope, tensor, Tensor } from '../../lib/index';
import { assertThrows, DEVICE, liveStorages } from '../helpers';

const opts = { device: DEVICE };

test('autograd: gradients accumulate across backward calls', () => {
  const x = tensor([1, -1, 2], [3], opts).requiresGrad_();
  for (let i = 0; i < 2; i++) {
    const y = relu(x);
    y.backward(tensor([1, 1, 1], [3], opts));
    y.dispose();
  }
  assert.equal(x.grad!.toArray(), [2, 0, 2]);
  x.dispose();
});

test('autograd: a tensor used twice sums its gradients', () => {
  const x = tensor([1, -1, 2], [3], opts).requiresGrad_();
  const a = relu(x);
  const b = relu(a.reshape(3)); // a feeds b
  // backward through b only reaches x once per path
  b.backward(tensor([1, 2, 3], [3], opts));
  assert.equal(x.grad!.toArray(), [1, 0, 3]);
  // two paths from x: x -> relu -> out1, x -> permute/reshape -> relu -> out2 is covered in tensor tests
  for (const t of [x, a, b]) t.dispose();
});

test('autograd: contributions that are shared or strided views of one gradient are summed right', () => {
  // x (2, 3) -> t = 3x, a non-leaf whose gradient gets several contributions:
  //   add(t, t): two views of the same incoming gradient (neither may be written in place)
  //   permute(t) and a slice of t: strided and offset views
  //   mul(t, t): fresh tensors (summed in place)
  const x = tensor([1, -2, 3, 0.5, 4, -1], [2, 3], opts).requiresGrad_();
  const before = liveStorages();
  scope(() => {
    const t = mulScalar(x, 3);
    const s1 = add(t, t); // d/dt: 2
    const s2 = t.permute(1, 0).permute(1, 0); // d/dt: 1 through two strided views
    const s3 = mul(t, t); // d/dt: 2t
    const row = t.slice(1, 2); // the second row (1, 3), an offset view, used twice and broadcast over 2 rows
    const total = add(add(add(s1, s2), s3), add(row, row)); // d/dt: 4 on the second row
    total.backward(tensor([1, 1, 1, 1, 1, 1], [2, 3], opts));
  });
  // d total / dx = 3 * (2 + 1 + 2 * 3x + [second row: 4])
  const xs = [1, -2, 3, 0.5, 4, -1];
  const expected = xs.map((v, i) => 3 * (3 + 6 * v + (i >= 3 ? 4 : 0)));
  assert.equal([...x.grad!.toFloat32Array()], expected);
  x.grad!.dispose();
  x.grad = null;
  assert.equal(liveStorages(), before);
  x.dispose();
});

test('autograd: no-grad mode records nothing; inputs without requiresGrad get no gradient', () => {
  const x = tensor([1, 2], [2], opts).requiresGrad_();
  const y = noGrad(() => relu(x));
  assert.not.ok(y.requiresGrad);
  assert.is(y.gradFn, null);
  const c = tensor([1, 2], [2], opts);
  const z = relu(c);
  assert.not.ok(z.requiresGrad);
  assertThrows(() => z.backward(tensor([1, 1], [2], opts)), /backward: expected a tensor that requires grad/);
  for (const t of [x, y, c, z]) t.dispose();
});

test('autograd: backward needs a scalar or an explicit gradient', () => {
  const x = tensor([1, 2], [2], opts).requiresGrad_();
  const y = relu(x);
  assertThrows(() => y.backward(), /backward: expected a scalar output \(or a gradient argument\) but received shape \(2\)/);
  assertThrows(() => y.backward(tensor([1, 2, 3], [3], opts)), /backward: expected a gradient of shape \(2\) but received \(3\)/);
  x.dispose();
  y.dispose();
});

test('autograd: the graph is released after backward unless retained', () => {
  const x = tensor([1, 2], [2], opts).requiresGrad_();
  const y = relu(relu(x));
  const g = tensor([1, 1], [2], opts);
  y.backward(g, { retainGraph: true });
  y.backward(g);
  assert.equal(x.grad!.toArray(), [2, 2]);
  assertThrows(() => y.backward(g), /saved tensors were already released/);
  for (const t of [x, y, g]) t.dispose();
});

test('autograd: deep graphs (20000 nodes) run without recursion', () => {
  const start = liveStorages();
  scope(() => {
    const x = tensor([1, 2, 3], [3], opts).requiresGrad_();
    let y: Tensor = x;
    for (let i = 0; i < 20000; i++) y = i % 2 ? relu(y) : y.reshape(3);
    y.backward(tensor([1, 1, 1], [3], opts));
    assert.equal(x.grad!.toArray(), [1, 1, 1]);
  });
  assert.equal(liveStorages(), start);
});

test('autograd: a scope frees saved tensors of graphs it does not return', () => {
  const start = liveStorages();
  const x = tensor([1, 2, 3], [3], opts).requiresGrad_();
  scope(() => {
    relu(relu(x));
  });
  x.dispose();
  assert.equal(liveStorages(), start);
});

test('autograd: a returned output keeps its graph alive for a later backward', () => {
  const x = tensor([1, -2, 3], [3], opts).requiresGrad_();
  const y = scope(() => relu(relu(x)));
  y.backward(tensor([1, 1, 1], [3], opts));
  assert.equal(x.grad!.toArray(), [1, 0, 1]);
  x.dispose();
  y.dispose();
});

test('autograd: onLeafReady reports each leaf once, when no node left can add to its .grad', () => {
  const a = tensor([1, 2], [2], opts).requiresGrad_(), b = tensor([3, -1], [2], opts).requiresGrad_();
  const c = tensor([5, 5], [2], opts).requiresGrad_(), unused = tensor([0, 0], [2], opts).requiresGrad_();
  const events: string[] = [];
  const names = new Map([[a, 'a'], [b, 'b'], [c, 'c']]);
  scope(() => {
    // a is used twice: it is complete only after both uses; c's gradient is relu's 0
    const y = add(add(mul(a, b), a), mulScalar(relu(mulScalar(c, -1)), 2));
    y.backward(tensor([1, 1], [2], opts), {
      onLeafReady: (leaf) => events.push(`${names.get(leaf)}:${leaf.grad ? Array.from(leaf.grad.toFloat32Array()).join(',') : 'null'}`),
    });
  });
  assert.equal(events.sort(), ['a:4,0', 'b:1,2', 'c:0,0']);
  assert.is(unused.grad, null);
  // a leaf as the root itself
  const seen: Tensor[] = [];
  a.backward(tensor([1, 1], [2], opts), { onLeafReady: (leaf) => seen.push(leaf) });
  assert.equal(seen, [a]);
  for (const t of [a, b, c, unused]) t.dispose();
});

test.run();

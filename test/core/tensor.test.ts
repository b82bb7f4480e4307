import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { full, keep, permute, relu, reshape, scope, tensor, zeros, Rng, randn, Tensor } from '../../lib/index';
import { assertThrows, DEVICE, liveStorages } from '../helpers';

const opts = { device: DEVICE };

test('tensor: creation and read back (float32 and int64)', () => {
  const t = tensor([1, 2, 3, 4, 5, 6], [2, 3], opts);
  assert.equal([...t.shape], [2, 3]);
  assert.equal(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
  const l = tensor(BigInt64Array.from([3n, -1n, 7n]), undefined, opts);
  assert.is(l.dtype, 'int64');
  assert.equal(Array.from(l.data() as BigInt64Array), [3n, -1n, 7n]);
  const z = zeros([2, 2], opts);
  assert.equal(Array.from(z.toFloat32Array()), [0, 0, 0, 0]);
  for (const x of [t, l, z]) x.dispose();
});

test('tensor: views share storage without copies', () => {
  const before = liveStorages().cpuBuffers + liveStorages().cudaBuffers;
  const t = tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [2, 2, 3], opts);
  const p = t.permute(2, 0, 1);
  const r = t.reshape(4, 3);
  const s = t.slice(1, 2);
  assert.is(liveStorages().cpuBuffers + liveStorages().cudaBuffers, before + 1, 'views allocate nothing');
  assert.equal([...p.shape], [3, 2, 2]);
  assert.equal(p.toArray(), [[[0, 3], [6, 9]], [[1, 4], [7, 10]], [[2, 5], [8, 11]]]);
  assert.equal(r.toArray(), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]);
  assert.equal(s.toArray(), [[[6, 7, 8], [9, 10, 11]]]);
  assert.is(s.offset, 6);
  assert.not.ok(p.isContiguous);
  const c = p.contiguous();
  assert.ok(c.isContiguous);
  assert.equal(c.toArray(), p.toArray());
  // reshape of a non-contiguous view copies
  assert.equal(p.reshape(-1).toArray(), [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
  t.dispose();
  assert.equal(r.toArray(), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]], 'a view keeps the storage alive');
  for (const x of [p, r, s, c]) x.dispose();
});

test('tensor: bad arguments give clear errors', () => {
  assertThrows(() => tensor([1, 2, 3], [2, 2]), /tensor: expected a shape of 3 elements for shape but received \(2, 2\)/);
  const t = tensor([1, 2, 3, 4, 5, 6], [2, 3], opts);
  assertThrows(() => t.reshape(4, 2), /reshape: expected a shape of 6 elements like \(2, 3\) for shape but received \(4, 2\)/);
  assertThrows(() => t.permute(0, 0), /permute: expected a permutation of 0..1 for dims/);
  assertThrows(() => t.slice(1, 3), /slice: expected 0 <= start <= end <= 2 for range but received start 1 and end 3/);
  assertThrows(() => tensor([1.5], [1], { dtype: 'int64' }), /tensor: expected integers of magnitude below 2\^53 for an int64 tensor \(a BigInt64Array for larger ones\) for data but received 1\.5/);
  t.dispose();
  assertThrows(() => t.data(), /expected a live tensor but received one that was disposed/);
  t.dispose(); // twice is fine
});

test('tensor: native side rejects bad calls with JS errors', () => {
  const t = tensor([1, 2, 3], [3], opts);
  const { native } = require('../../lib/native');
  assertThrows(() => native.relu_forward(t.storage, t.storage, 4), /relu_forward: expected a storage of at least 4 elements for out but received one of 3/);
  assertThrows(() => native.relu_forward(t.storage, {}, 3), /relu_forward: expected a Storage for inp but received an object/);
  assertThrows(() => native.relu_forward(t.storage, t.storage), /relu_forward: expected 3 arguments but received 2/);
  assertThrows(() => native.relu_forward(t.storage, t.storage, -1), /relu_forward: expected a non-negative integer below 2\^53 for n but received -1/);
  assertThrows(() => native.strided_copy(t.storage, 0, t.storage, 0, [4], [1]), /strided_copy: expected a storage of at least 4 elements for out/);
  t.dispose();
});

test('scope: frees intermediates, keeps the result, and frees on throw', () => {
  const start = liveStorages();
  const kept = scope(() => {
    const a = tensor([1, -2, 3], [3], opts);
    const b = relu(a);
    relu(b);
    return b;
  });
  assert.is(liveStorages().cpuBuffers + liveStorages().cudaBuffers, start.cpuBuffers + start.cudaBuffers + 1);
  assert.equal(kept.toArray(), [1, 0, 3]);
  kept.dispose();
  assert.equal(liveStorages(), start);
  assert.throws(() =>
    scope(() => {
      relu(tensor([1, 2], [2], opts));
      throw new Error('boom');
    }),
  );
  assert.equal(liveStorages(), start, 'freed after a throw');
  let outer: Tensor | null = null;
  scope(() => {
    outer = keep(tensor([1], [1], opts));
    // nested scopes return into their parent
    const inner = scope(() => ({ x: tensor([2], [1], opts) }));
    assert.not.ok(inner.x.disposed);
  });
  assert.not.ok(outer!.disposed);
  outer!.dispose();
  assert.equal(liveStorages(), start);
  assertThrows(() => scope(() => Promise.resolve(1) as never), /scope: expected a synchronous function/);
});

test('randn: seeded and reproducible', () => {
  const a = randn([100], new Rng(7), opts).toFloat32Array();
  const b = randn([100], new Rng(7), opts).toFloat32Array();
  assert.equal(Array.from(a), Array.from(b));
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(mean) < 0.3, `mean ${mean}`);
});

test('views: reshape/permute are differentiable', () => {
  const x = tensor([1, -2, 3, -4, 5, 6], [2, 3], opts).requiresGrad_();
  const y = relu(reshape(permute(x, [1, 0]), [6]));
  y.backward(tensor([1, 2, 3, 4, 5, 6], [6], opts));
  // y = relu([1,-4,-2,5,3,6]); dy/dx at x[i][j] = w[j*2+i] where x>0
  assert.equal(x.grad!.toArray(), [[1, 0, 5], [0, 4, 6]]);
  x.dispose();
  y.dispose();
});

test('int64 creation refuses numbers it cannot hold exactly instead of wrapping them', () => {
  const d = { device: DEVICE, dtype: 'int64' as const };
  const msg = 'integers of magnitude below 2\\^53 for an int64 tensor \\(a BigInt64Array for larger ones\\)';
  assertThrows(() => tensor([2 ** 70], [1], d), new RegExp(`tensor: expected ${msg} for data but received 1\\.1805916207174113e\\+21`));
  assertThrows(() => tensor([1, 2 ** 53], [2], d), new RegExp(`tensor: expected ${msg} for data but received 9007199254740992`));
  assertThrows(() => tensor([1.5], [1], d), /but received 1\.5/);
  assertThrows(() => full([2], 1e30, d), new RegExp(`full: expected ${msg} for value but received 1e\\+30`));
  assertThrows(() => full([2], NaN, d), /full: expected integers .* but received NaN/);
  assertThrows(() => full([2], 0.5, d), /full: expected integers .* but received 0\.5/);
  const edge = tensor([-(2 ** 53 - 1), 2 ** 53 - 1], [2], d);
  assert.equal(Array.from(edge.storage.read() as BigInt64Array), [-(2n ** 53n - 1n), 2n ** 53n - 1n]);
  const big = tensor(BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]), [2], d);
  assert.equal(Array.from(big.storage.read() as BigInt64Array), [-(2n ** 63n), 2n ** 63n - 1n]);
  const f = full([2], -(2 ** 53 - 1), d);
  assert.equal(Array.from(f.storage.read() as BigInt64Array), [-(2n ** 53n - 1n), -(2n ** 53n - 1n)]);
  for (const t of [edge, big, f]) t.dispose();
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { partition, scope, tensor, unpartition, Rng } from '../../lib/index';
import { assertClose, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput, liveStorages } from '../helpers';

const golden = fixture('partition');

test('partition: matches the reference reshape/permute and round-trips', () => {
  const x = fromHost(golden('x'), true);
  const p = partition(x, 2, 3);
  assert.equal([...p.shape], [2 * 2 * 2, 3, 2, 3]);
  assertClose('partition forward vs torch', p, golden('p'));
  // The block's work is p * 2 in the fixture; un-partition and backprop through both views.
  const doubled = p.reshape(-1); // view of a dense tensor
  const q = tensor(Float32Array.from(doubled.toFloat32Array(), (v) => 2 * v), [...p.shape], { device: DEVICE });
  const u = unpartition(q, 4, 6);
  assertClose('unpartition forward vs torch', u, golden('u'));
  const r = unpartition(p, 4, 6);
  r.backward(fromHost(golden('w')));
  // d(unpartition(partition(x)))/dx = identity, so dx = w; torch's dx is 2w.
  const w = golden('w').data as Float32Array;
  assertClose('partition+unpartition dx', x.grad!, Float32Array.from(w));
  assertClose('torch dx is twice the weights', Float32Array.from(golden('dx').data as Float32Array), Float32Array.from(w, (v) => 2 * v));
  for (const t of [x, p, doubled, q, u, r]) t.dispose();
});

test('partition: one partition per map is a view (no copy)', () => {
  const x = tensor(new Float32Array(2 * 3 * 4 * 5), [2, 3, 4, 5], { device: DEVICE });
  const before = liveStorages();
  const p = partition(x, 4, 5);
  assert.ok(p.storage === x.storage, 'the partition is a view of the map');
  // no storage made (one dropped earlier without dispose may be swept meanwhile, so at most as many)
  const after = liveStorages();
  assert.ok(after.cpuBuffers <= before.cpuBuffers && after.cudaBuffers <= before.cudaBuffers, JSON.stringify({ before, after }));
  assert.equal([...p.shape], [2, 3, 4, 5]);
  p.dispose();
  x.dispose();
});

test('partition: float64 reference and finite differences', () => {
  const rng = new Rng(5);
  const [N, C, H, W, h, w] = [1, 2, 4, 4, 2, 2];
  gradcheck({
    name: 'partition',
    rng,
    inputs: [randomInput([N, C, H, W], rng)],
    op: ([x]) => partition(x, h, w),
    ref: ([x]) => {
      const out = new Float64Array(x.length);
      let o = 0;
      for (let n = 0; n < N; n++)
        for (let i = 0; i < H / h; i++)
          for (let j = 0; j < W / w; j++)
            for (let c = 0; c < C; c++)
              for (let a = 0; a < h; a++) for (let b = 0; b < w; b++) out[o++] = x[((n * C + c) * H + i * h + a) * W + j * w + b];
      return out;
    },
  });
});

test('partition: errors', () => {
  const x = tensor(new Float32Array(2 * 3 * 4 * 5), [2, 3, 4, 5], { device: DEVICE });
  assertThrows(() => partition(x, 3, 5), /partition: expected a map whose height and width are multiples of 3 x 5 for x but received shape \(2, 3, 4, 5\)/);
  assertThrows(() => unpartition(x, 12, 5), /unpartition: expected partitions of a 12 x 5 map for y/);
  x.dispose();
  scope(() => undefined);
});

test.run();

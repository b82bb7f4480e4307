// The caching allocators (host and CUDA) and their statistics, poisoning, and copies
// between devices. Runs on the device under test (cpu for npm test, cuda for test:gpu).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emptyCache, empty, memoryStats, resetPeakMemoryStats, scope, setPoison, tensor, type MemStats } from '../../lib/index';
import { native } from '../../lib/native';
import { DEVICE, assertThrows, liveStorages } from '../helpers';

const stats = (): MemStats => (DEVICE === 'cuda' ? memoryStats().cuda! : memoryStats().cpu);
const MiB = 2 ** 20;

test('allocated, reserved and peak follow tensors; freed blocks are reused', () => {
  emptyCache(DEVICE);
  const s0 = stats();
  assert.is(s0.reservedBytes, s0.allocatedBytes, 'an empty cache reserves nothing beyond what is allocated');
  const a = empty([3 * MiB / 4], { device: DEVICE }); // 3 MiB
  const s1 = stats();
  assert.ok(s1.allocatedBytes - s0.allocatedBytes >= 3 * MiB, `allocated grew by ${s1.allocatedBytes - s0.allocatedBytes}`);
  assert.is(s1.allocations, s0.allocations + 1);
  assert.ok(s1.peakAllocatedBytes >= s1.allocatedBytes);
  a.dispose();
  const s2 = stats();
  assert.is(s2.allocatedBytes, s0.allocatedBytes, 'allocated back to the start');
  assert.is(s2.reservedBytes - s2.allocatedBytes, s1.allocatedBytes - s0.allocatedBytes, 'the block stays cached');
  const b = empty([3 * MiB / 4], { device: DEVICE });
  const s3 = stats();
  assert.is(s3.cacheHits, s2.cacheHits + 1, 'same size again comes from the cache');
  assert.is(s3.systemAllocs, s2.systemAllocs, 'without a system allocation');
  b.dispose();
  resetPeakMemoryStats(DEVICE);
  assert.is(stats().peakAllocatedBytes, stats().allocatedBytes, 'reset peak = current');
  emptyCache(DEVICE);
  assert.is(stats().reservedBytes, stats().allocatedBytes, 'emptyCache returns cached blocks');
});

test('poisoned allocations read as NaN (float32) and -1 (int64)', () => {
  scope(() => {
    assert.ok(empty([7], { device: DEVICE }).toFloat32Array().every(Number.isNaN));
    assert.equal(Array.from(empty([3], { device: DEVICE, dtype: 'int64' }).data() as BigInt64Array), [-1n, -1n, -1n]);
  });
  assert.is(setPoison(true), true);
  assertThrows(() => setPoison('yes' as unknown as boolean), /^setPoison: expected a boolean for on but received 'yes'/);
  assertThrows(() => emptyCache('gpu' as 'cuda'), /^emptyCache: expected 'cpu' or 'cuda' for device but received 'gpu'/);
});

test('to(): copies between devices, non-contiguous views included', () => {
  scope(() => {
    const x = tensor(Float32Array.from({ length: 24 }, (_, i) => i - 7.5), [2, 3, 4], { device: DEVICE });
    const v = x.permute(2, 0, 1); // non-contiguous
    const expected = v.toFloat32Array();
    const onCpu = v.to('cpu');
    if (DEVICE !== 'cpu') {
      assert.is(onCpu.device, 'cpu');
      assert.equal(Array.from(onCpu.toFloat32Array()), Array.from(expected));
      const back = onCpu.to(DEVICE);
      assert.is(back.device, DEVICE);
      assert.equal(Array.from(back.toFloat32Array()), Array.from(expected));
    } else {
      assert.is(onCpu, v, 'to() the same device returns the tensor itself');
    }
    assertThrows(() => x.to('tpu' as 'cpu'), /^to: expected 'cpu' or 'cuda' for device but received 'tpu'/);
  });
});

test('copy_storage: same-device copies and its native checks', () => {
  const a = new native.Storage(DEVICE, 'float32', 8), b = new native.Storage(DEVICE, 'float32', 8);
  const i = new native.Storage(DEVICE, 'int64', 8);
  try {
    a.write(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 0);
    native.copy_storage(b, 2, a, 1, 5);
    assert.equal(Array.from(b.read(2, 5) as Float32Array), [2, 3, 4, 5, 6]);
    assertThrows(() => native.copy_storage(i, 0, a, 0, 1), /^copy_storage: expected an int64 storage like dst for src but received float32/);
    assertThrows(() => native.copy_storage(b, 4, a, 0, 5), /^copy_storage: expected a storage of at least 9 elements for dst but received one of 8/);
    assertThrows(() => native.copy_storage(b, 0, a, 7, 2), /^copy_storage: expected a storage of at least 9 elements for src but received one of 8/);
  } finally {
    a.dispose(), b.dispose(), i.dispose();
  }
  assertThrows(() => native.copy_storage(b, 0, a, 0, 1), /^copy_storage: expected a live storage for dst but received a disposed one/);
});

// JS code can run while a binding converts its arguments (a getter on a list element). A
// storage disposed by such code keeps its memory until the call returns (it is pinned), and
// one disposed before it is reached is refused.
test('storages: pinned for the whole call while getters dispose them', () => {
  const make = (v: number) => {
    const s = new native.Storage(DEVICE, 'float32', 4);
    s.write(Float32Array.from([v, v, v, v]), 0);
    return s;
  };
  const [p0, p1, g0, g1] = [make(1), make(2), make(10), make(20)];
  const before = liveStorages().cpuBuffers + liveStorages().cudaBuffers;
  // Reading params[1] disposes params[0], which the binding has already resolved.
  const params: unknown[] = [p0];
  Object.defineProperty(params, 1, { get: () => (p0.dispose(), p1), enumerable: true });
  native.sgd_step(params as never, [g0, g1], [4, 4], 0.1, 0);
  assert.ok(p0.disposed);
  assert.equal(Array.from(p1.read() as Float32Array), [0, 0, 0, 0]);
  assert.is(liveStorages().cpuBuffers + liveStorages().cudaBuffers, before - 1, 'the pinned storage is freed when the call returns');
  // Reading grads[0] disposes grads[1] before the binding reaches it.
  const grads: unknown[] = [];
  Object.defineProperty(grads, 0, { get: () => (g1.dispose(), g0), enumerable: true });
  grads[1] = g1;
  assertThrows(() => native.sgd_step([p1, p1] as never, grads as never, [4, 4], 0.1, 0), /sgd_step: expected a live storage for grads\[1\] but received a disposed one/);
  for (const s of [p1, g0]) s.dispose();
});

test('storages: only objects made by the Storage constructor are taken as storages', () => {
  const s = new native.Storage(DEVICE, 'float32', 4);
  const slot = Object.getOwnPropertySymbols(s)[0];
  assert.ok(slot, 'the slot lives under a symbol');
  assertThrows(() => Object.defineProperty(s, slot, { value: 0 }), /Cannot redefine property/);
  const fake = Object.create(s);
  assertThrows(() => native.fill(fake, 1, 0, 4), /^fill: expected a Storage for out but received an object that is not a Storage/);
  assertThrows(() => native.fill({ [slot]: 0 } as never, 1, 0, 4), /^fill: expected a Storage for out but received an object that is not a Storage/);
  assertThrows(() => (native.Storage as unknown as () => void)(), /use new Storage/);
  assertThrows(() => Object.getOwnPropertyDescriptor(Object.getPrototypeOf(s), 'numel')!.get!.call({}), /Storage\.numel: expected a Storage as this/);
  assertThrows(() => s.read({ valueOf: () => (s.dispose(), 0) } as never, 1), /Storage\.read: expected a number for argument 1/);
  s.dispose();
});

test.run();

// The distributed world of this process alone (no launcher): rank 0 of 1, every collective
// the identity on both dtypes, the argument checks, and DataParallel giving plain backward's
// gradients; the launcher's variables, the timeout's parsing and mpirun's arguments.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  allReduce, barrier, broadcast, broadcastObject, crossEntropy, DataParallel, initDistributed, isRank0, lossScale, randn, RepMLPNet, Rng, sumCounts,
  tensor, world, type RepMLPNetConfig,
} from '../../lib/index';
import { launchArgs } from '../../lib/dist/launch';
import { launcherVariable, timeoutFromEnv } from '../../lib/dist/world';
import { assertThrows, DEVICE } from '../helpers';

test('before and after initDistributed with no launcher: rank 0 of a world of one', () => {
  assert.is(launcherVariable(), null);
  const before = world();
  assert.is(before.rank, 0);
  assert.is(before.size, 1);
  const w = initDistributed();
  assert.equal({ engine: w.engine, rank: w.rank, size: w.size, localRank: w.localRank, localSize: w.localSize }, { engine: 'local', rank: 0, size: 1, localRank: 0, localSize: 1 });
  assert.equal(initDistributed({ engine: 'local' }), w);
  assert.ok(isRank0());
  assertThrows(() => initDistributed({ engine: 'nccl' as never }), /initDistributed: expected 'auto', 'mpi' or 'local' for engine but received 'nccl'/);
  assertThrows(() => initDistributed({ timeoutSeconds: -1 }), /initDistributed: expected a finite number of seconds >= 0 for timeoutSeconds but received -1/);
});

test('collectives on a world of one are identities, on float32 and int64 tensors', () => {
  const x = tensor(Float32Array.of(1, -2, 3.5), [3], { device: DEVICE });
  for (const op of ['sum', 'mean', 'max', 'min'] as const) assert.equal(Array.from(allReduce(x, op).toFloat32Array()), [1, -2, 3.5]);
  const n = tensor(BigInt64Array.of(5n, -7n), [2], { device: DEVICE });
  assert.equal(Array.from(allReduce(n, 'sum').storage.read() as BigInt64Array), [5n, -7n]);
  assert.equal(Array.from(broadcast(x).toFloat32Array()), [1, -2, 3.5]);
  barrier();
  assert.equal(broadcastObject({ resume: true, step: 3 }), { resume: true, step: 3 });
  assert.equal(sumCounts([3, 0, 12]), [3, 0, 12]);
  assert.is(lossScale(4, 4), 1);
  x.dispose();
  n.dispose();
});

test('collectives check their arguments', () => {
  const x = tensor(Float32Array.of(1, 2, 3, 4), [2, 2]);
  const t = x.permute(1, 0);
  assertThrows(() => allReduce(t), /allReduce: expected a contiguous tensor \(it is reduced in place\) for tensor but received a strided view/);
  assertThrows(() => allReduce(x, 'prod' as never), /allReduce: expected 'sum', 'mean', 'max' or 'min' for op but received 'prod'/);
  const n = tensor(BigInt64Array.of(1n));
  assertThrows(() => allReduce(n, 'mean'), /allReduce: expected a float32 tensor for 'mean' for tensor but received an int64 tensor/);
  assertThrows(() => broadcast(x, 1), /broadcast: expected a rank in \[0, 0\] for root but received 1/);
  assertThrows(() => allReduce([1, 2] as never), /allReduce: expected a Tensor for tensor but received \[1, 2\]/);
  assertThrows(() => sumCounts([0.5]), /sumCounts: expected safe integers for counts but received 0\.5/);
  assertThrows(() => lossScale(3, 0), /lossScale: expected an integer >= 1 for global but received 0/);
  x.dispose();
  n.dispose();
});

const TINY: RepMLPNetConfig = {
  inChannels: 1, numClasses: 4, patchSize: 2, numBlocks: [1], channels: [8], hs: [4], ws: [4], sharesetsNums: [2], reparamConvK: [1, 3],
};

test('DataParallel on a world of one: plain backward\'s gradients, BatchNorm switched to sync with syncBatchNorm', () => {
  const rng = new Rng(2);
  const x = randn([4, 1, 8, 8], rng, { device: DEVICE }), y = tensor(BigInt64Array.of(0n, 1n, 2n, 3n), [4], { device: DEVICE });
  const grads = (m: RepMLPNet, backward: (l: ReturnType<typeof crossEntropy>) => void) => {
    backward(crossEntropy(m.forward(x), y));
    const g = m.parameters().map((p) => Array.from(p.grad!.toFloat32Array()));
    m.dispose();
    return g;
  };
  const plain = grads(new RepMLPNet(TINY, { seed: 1, device: DEVICE }), (l) => l.backward());
  const model = new RepMLPNet(TINY, { seed: 1, device: DEVICE });
  const ddp = new DataParallel(model, { syncBatchNorm: true, bucketBytes: 64 });
  assert.ok(model.namedModules().some(([, m]) => (m as { sync?: boolean }).sync === true));
  assert.equal(grads(model, (l) => ddp.backward(l)), plain);
  assertThrows(() => new DataParallel(new RepMLPNet(TINY), { bucketBytes: 0 }), /DataParallel: expected an integer >= 1 for bucketBytes but received 0/);
  assertThrows(() => new DataParallel(new RepMLPNet(TINY), { overlap: 'yes' as never }), /DataParallel: expected a boolean for overlap but received 'yes'/);
  x.dispose();
  y.dispose();
});

test('launcher variables and the timeout from the environment', () => {
  assert.is(launcherVariable({ OMPI_COMM_WORLD_SIZE: '2' }), 'OMPI_COMM_WORLD_SIZE');
  assert.is(launcherVariable({ PMI_SIZE: '4' }), 'PMI_SIZE');
  assert.is(launcherVariable({ PMIX_RANK: '0' }), 'PMIX_RANK');
  assert.is(launcherVariable({ OMPI_COMM_WORLD_SIZE: '' }), null);
  assert.is(timeoutFromEnv({}), 600);
  assert.is(timeoutFromEnv({ REPMLP_DIST_TIMEOUT: '30' }), 30);
  assert.is(timeoutFromEnv({ REPMLP_DIST_TIMEOUT: '0' }), 0);
  assertThrows(() => timeoutFromEnv({ REPMLP_DIST_TIMEOUT: '5s' }), /initDistributed: expected a number of seconds >= 0 \(0: no limit\) for REPMLP_DIST_TIMEOUT but received '5s'/);
});

test('mpirun arguments: Open MPI gets --oversubscribe beyond the cores, --allow-run-as-root as root and no binding; MPICH none', () => {
  const cmd = ['node', 'cli.js', 'train'];
  assert.equal(launchArgs(2, cmd, { kind: 'openmpi', root: false, cores: 2 }), ['--bind-to', 'none', '-np', '2', ...cmd]);
  assert.equal(launchArgs(4, cmd, { kind: 'openmpi', root: true, cores: 2 }), ['--oversubscribe', '--allow-run-as-root', '--bind-to', 'none', '-np', '4', ...cmd]);
  assert.equal(launchArgs(4, cmd, { kind: 'mpich', root: true, cores: 2 }), ['-np', '4', ...cmd]);
});

test.run();

// DistributedSampler and the loader's shard: the ranks' shares of each global batch are
// disjoint, cover it and keep its order; the loaders of 2 and 3 ranks yield, put together,
// exactly one loader's batches (augmentation, mixup and CutMix partners on other ranks
// included), with the same state() on every rank; a last batch too small for the ranks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DataLoader, epochOrder, type Batch, type DataLoaderOptions, type ImageDataset } from '../../lib/data/loader';
import { DistributedSampler, shardRange } from '../../lib/data/sampler';
import { assertThrows } from '../helpers';

function synth(n: number, c: number, h: number, w: number, k = 5): ImageDataset {
  const images = new Uint8Array(n * c * h * w);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37 + 11) % 256;
  return { images, labels: Uint8Array.from({ length: n }, (_, i) => i % k), n, c, h, w };
}

test('shards of a global batch: contiguous, disjoint, covering, sizes within one', () => {
  for (const [size, ranks] of [[8, 2], [7, 3], [2, 3], [0, 2], [64, 4]]) {
    const parts = Array.from({ length: ranks }, (_, r) => shardRange(size, r, ranks));
    assert.is(parts[0][0], 0);
    assert.is(parts[ranks - 1][1], size);
    for (let r = 1; r < ranks; r++) assert.is(parts[r][0], parts[r - 1][1]);
    const sizes = parts.map(([lo, hi]) => hi - lo);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${size} over ${ranks}: ${sizes}`);
  }
});

test('every rank\'s batches put together are one process\'s epoch', () => {
  const n = 23, B = 6;
  for (const worldSize of [1, 2, 3]) {
    const samplers = Array.from({ length: worldSize }, (_, rank) => new DistributedSampler(n, { worldSize, rank, batchSize: B, seed: 9 }));
    assert.is(samplers[0].numBatches, 4);
    for (const epoch of [0, 1]) {
      const order = Array.from(epochOrder(n, 9, epoch));
      const seen = samplers.map((s) => [...s.batches(epoch)]);
      for (let k = 0; k < 4; k++) {
        const joined = seen.flatMap((b) => Array.from(b[k].indices));
        assert.equal(joined, order.slice(k * B, k * B + B), `world ${worldSize}, epoch ${epoch}, batch ${k}`);
        assert.is(seen[0][k].globalSize, Math.min(B, n - k * B));
      }
    }
  }
});

test('a last batch too small for every rank is dropped (minPerRank), as is an incomplete one with dropLast', () => {
  assert.is(new DistributedSampler(10, { worldSize: 4, rank: 0, batchSize: 8 }).numBatches, 1);  // 2 left for 4 ranks
  assert.is(new DistributedSampler(10, { worldSize: 4, rank: 0, batchSize: 8, minPerRank: 0 }).numBatches, 2);
  assert.is(new DistributedSampler(12, { worldSize: 4, rank: 3, batchSize: 8 }).numBatches, 2);
  assert.is(new DistributedSampler(12, { worldSize: 2, rank: 1, batchSize: 8, dropLast: true }).numBatches, 1);
  const empty = new DistributedSampler(10, { worldSize: 4, rank: 0, batchSize: 8, minPerRank: 0 }).shard(0, 1);
  assert.equal([empty.indices.length, empty.globalSize], [0, 2]);
  assertThrows(() => new DistributedSampler(3, { worldSize: 4, rank: 0, batchSize: 8 }),
    /DistributedSampler: expected a global batch that gives each of 4 ranks at least 1 of the 3 images for batchSize but received 8/);
  assertThrows(() => new DistributedSampler(10, { worldSize: 2, rank: 2, batchSize: 4 }), /DistributedSampler: expected a rank below worldSize 2 for rank but received 2/);
  assertThrows(() => new DistributedSampler(10, { worldSize: 2, rank: 0, batchSize: 4 }).globalBatch(0, 3), /DistributedSampler: expected a batch index below 3 for index but received 3/);
});

async function epochs(loader: DataLoader, count: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < count; i++) out.push(await loader.next());
  return out;
}

// Crop, flip, and mixup or CutMix every batch: partners fall on other ranks.
const AUG: DataLoaderOptions = { batchSize: 6, seed: 5, padTo: [6, 7], cropPadding: 2, flip: true, mixupAlpha: 0.4, cutmixAlpha: 1, mean: [0.3, 0.5], std: [0.2, 0.4] };

test('the loaders of 2 and 3 ranks yield one loader\'s batches, augmented and mixed the same, with one state', async () => {
  const data = synth(22, 2, 3, 4);  // 4 global batches, the last of 4 images: one at least per rank
  for (const prefetch of [false, true]) {
    const one = new DataLoader(data, { ...AUG, prefetch });
    const whole = await epochs(one, 9);
    for (const worldSize of [2, 3]) {
      const ranks = Array.from({ length: worldSize }, (_, rank) => new DataLoader(data, { ...AUG, prefetch, shard: { rank, worldSize } }));
      const shares = await Promise.all(ranks.map((l) => epochs(l, 9)));
      whole.forEach((b, k) => {
        const parts = shares.map((s) => s[k]);
        const per = b.x.length / b.labels.length;
        assert.equal(parts.flatMap((p) => Array.from(p.indices)), Array.from(b.indices), `batch ${k}: rows`);
        assert.equal(parts.flatMap((p) => Array.from(p.labels)), Array.from(b.labels));
        assert.ok(Buffer.concat(parts.map((p) => Buffer.from(p.x.buffer))).equals(Buffer.from(b.x.buffer)), `batch ${k}: pixels (world ${worldSize}, prefetch ${prefetch})`);
        assert.equal(parts.flatMap((p) => Array.from(p.targets!)), Array.from(b.targets!), `batch ${k}: soft targets`);
        for (const p of parts) {
          assert.is(p.globalSize, b.labels.length);
          assert.is(p.x.length, p.labels.length * per);
          assert.equal(p.shape.slice(1), b.shape.slice(1));
        }
      });
      for (const l of ranks) assert.equal(l.state(), one.state());
      await Promise.all(ranks.map((l) => l.close()));
    }
    await one.close();
  }
});

test('a rank with no image in the test set\'s last batch gets an empty batch', async () => {
  const data = synth(9, 1, 2, 2);
  const loader = new DataLoader(data, { batchSize: 4, shuffle: false, prefetch: false, shard: { rank: 0, worldSize: 3, minPerRank: 0 } });
  const sizes = [];
  for await (const b of loader.batches()) sizes.push([b.labels.length, b.shape[0], b.globalSize]);
  assert.equal(sizes, [[1, 1, 4], [1, 1, 4], [0, 0, 1]]);
});

test.run();

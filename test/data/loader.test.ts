// DataLoader: padding / normalisation values, crop and flip, mixup / CutMix soft targets,
// seeded shuffling, identical results with and without the worker, resume mid-epoch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scope } from '../../lib/scope';
import { assertNoLeak, assertThrows } from '../helpers';
import { planBatch, renderBatch, sampleBeta, type RenderSpec } from '../../lib/data/augment';
import { batchToTensors, DataLoader, epochOrder, type Batch, type DataLoaderOptions, type ImageDataset } from '../../lib/data/loader';
import { fashionMnistSampleDir, loadFashionMnist } from '../../lib/data/fashion-mnist';
import { Rng } from '../../lib/rng';

/** n images (c, h, w) with distinct pixels, labels i % k. */
function synth(n: number, c: number, h: number, w: number, k = 5): ImageDataset {
  const images = new Uint8Array(n * c * h * w);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37 + 11) % 256;
  return { images, labels: Uint8Array.from({ length: n }, (_, i) => i % k), n, c, h, w };
}

async function take(loader: DataLoader, count: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < count; i++) out.push(await loader.next());
  return out;
}

function sameBatches(a: Batch[], b: Batch[], what: string): void {
  assert.is(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.equal([a[i].epoch, a[i].index], [b[i].epoch, b[i].index], `${what}: position ${i}`);
    assert.equal(Array.from(a[i].indices), Array.from(b[i].indices), `${what}: indices ${i}`);
    assert.ok(Buffer.from(a[i].x.buffer).equals(Buffer.from(b[i].x.buffer)), `${what}: pixels of batch ${i}`);
    assert.equal(a[i].labels, b[i].labels, `${what}: labels ${i}`);
    assert.equal(a[i].targets && Array.from(a[i].targets!), b[i].targets && Array.from(b[i].targets!), `${what}: targets ${i}`);
  }
}

const AUG: DataLoaderOptions = { batchSize: 4, seed: 7, padTo: [6, 7], cropPadding: 2, flip: true, mixupAlpha: 0.4, cutmixAlpha: 1, mean: [0.3, 0.5], std: [0.2, 0.4] };

test('padding and normalisation values (float64 reference)', async () => {
  const d = synth(3, 2, 2, 3);
  const mean = [0.5, 0.25], std = [0.5, 2];
  const loader = new DataLoader(d, { batchSize: 3, shuffle: false, padTo: [4, 5], mean, std, prefetch: false });
  const b = await loader.next();
  assert.equal(b.shape, [3, 2, 4, 5]);
  assert.equal(Array.from(b.labels, Number), [0, 1, 2]);
  let worst = 0;
  for (let i = 0; i < 3; i++)
    for (let ch = 0; ch < 2; ch++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 5; x++) {
          const sy = y - 1, sx = x - 1;
          const v = sy >= 0 && sy < 2 && sx >= 0 && sx < 3 ? d.images[((i * 2 + ch) * 2 + sy) * 3 + sx] : 0;
          const e = (v / 255 - mean[ch]) / std[ch];
          worst = Math.max(worst, Math.abs(b.x[((i * 2 + ch) * 4 + y) * 5 + x] - e));
        }
  assert.ok(worst < 1e-6, `worst ${worst}`);
});

test('crop and flip on a small image (hand-computed)', () => {
  const images = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]); // (1, 1, 3, 3)
  const spec: RenderSpec = { c: 1, h: 3, w: 3, outH: 3, outW: 3, mean: [0], std: [1 / 255], cropPadding: 1, flip: true, mixupAlpha: 0, cutmixAlpha: 0, numClasses: 2 };
  const plan = (cy: number, cx: number, flip: number) => ({
    indices: Int32Array.of(0), cropY: Int32Array.of(cy), cropX: Int32Array.of(cx), flip: Uint8Array.of(flip),
    mix: 'none' as const, lam: 1, partner: Int32Array.of(0), box: [0, 0, 0, 0] as [number, number, number, number],
  });
  const px = (cy: number, cx: number, f: number) => Array.from(renderBatch(images, [1], spec, plan(cy, cx, f)).x, Math.round);
  assert.equal(px(1, 1, 0), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'centre crop = identity');
  assert.equal(px(1, 1, 1), [3, 2, 1, 6, 5, 4, 9, 8, 7], 'flip');
  assert.equal(px(0, 0, 0), [0, 0, 0, 0, 1, 2, 0, 4, 5], 'crop at the top-left of the padded image');
  assert.equal(px(2, 1, 0), [4, 5, 6, 7, 8, 9, 0, 0, 0], 'crop at the bottom');
  assert.equal(px(1, 2, 1), [0, 3, 2, 0, 6, 5, 0, 9, 8], 'crop to the right, then flip');
});

test('random crop / flip through the loader: every output is one of the 18 candidates, and several occur', async () => {
  const d = synth(8, 1, 3, 3);
  const loader = new DataLoader(d, { batchSize: 8, cropPadding: 1, flip: true, std: [1 / 255], prefetch: false });
  const seen = new Set<string>();
  for (let e = 0; e < 6; e++) {
    const b = await loader.next();
    for (let i = 0; i < 8; i++) {
      const got = Array.from(b.x.subarray(i * 9, i * 9 + 9), Math.round).join(',');
      let match = '';
      for (let cy = 0; cy < 3 && !match; cy++)
        for (let cx = 0; cx < 3 && !match; cx++)
          for (let f = 0; f < 2 && !match; f++) {
            const ref: number[] = [];
            for (let y = 0; y < 3; y++)
              for (let x = 0; x < 3; x++) {
                const sy = y + cy - 1, sx = (f ? 2 - x : x) + cx - 1;
                ref.push(sy >= 0 && sy < 3 && sx >= 0 && sx < 3 ? d.images[b.indices[i] * 9 + sy * 3 + sx] : 0);
              }
            if (ref.join(',') === got) match = `${cy}${cx}${f}`;
          }
      assert.ok(match, `image ${i} of epoch ${e} is a crop/flip of its source`);
      seen.add(match);
    }
  }
  assert.ok(seen.size >= 8, `${seen.size} distinct crop/flip choices`);
  assert.ok([...seen].some((s) => s.endsWith('1')) && [...seen].some((s) => s.endsWith('0')), 'both flipped and not');
});

test('mixup and CutMix: pixels and soft targets (rows sum to 1)', () => {
  const d = synth(6, 2, 4, 4, 3);
  const base: RenderSpec = { c: 2, h: 4, w: 4, outH: 4, outW: 4, mean: [0, 0], std: [1, 1], cropPadding: 0, flip: false, mixupAlpha: 0, cutmixAlpha: 0, numClasses: 4 };
  const idx = Int32Array.from([5, 0, 3, 2, 1, 4]);
  const plain = renderBatch(d.images, d.labels, base, planBatch(new Rng(1), idx, base)).x;
  const rng = new Rng(3);
  let sawCut = false;
  for (const spec of [{ ...base, mixupAlpha: 0.4 }, { ...base, cutmixAlpha: 1 }, { ...base, cutmixAlpha: 1 }, { ...base, cutmixAlpha: 0.5 }]) {
    const plan = planBatch(rng, idx, spec);
    const r = renderBatch(d.images, d.labels, spec, plan);
    assert.ok(plan.lam >= 0 && plan.lam <= 1);
    const per = 32, K = 4;
    for (let b = 0; b < 6; b++) {
      const row = Array.from(r.targets!.subarray(b * K, b * K + K));
      assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6, `row ${b} sums to 1`);
      const own = d.labels[idx[b]], other = d.labels[idx[plan.partner[b]]];
      const expect = [0, 0, 0, 0];
      expect[own] += plan.lam;
      expect[other] += 1 - plan.lam;
      for (let k = 0; k < K; k++) assert.ok(Math.abs(row[k] - expect[k]) < 1e-6, 'target value');
      for (let i = 0; i < per; i++) {
        const p = i % 16, y = Math.floor(p / 4), x = p % 4;
        const [y0, y1, x0, x1] = plan.box;
        const inBox = y >= y0 && y < y1 && x >= x0 && x < x1;
        const e = plan.mix === 'mixup'
          ? plan.lam * plain[b * per + i] + (1 - plan.lam) * plain[plan.partner[b] * per + i]
          : inBox ? plain[plan.partner[b] * per + i] : plain[b * per + i];
        assert.ok(Math.abs(r.x[b * per + i] - e) < 1e-5, `${plan.mix} pixel`);
      }
    }
    if (plan.mix === 'cutmix') {
      const [y0, y1, x0, x1] = plan.box;
      assert.ok(Math.abs(plan.lam - (1 - ((y1 - y0) * (x1 - x0)) / 16)) < 1e-12, 'CutMix lam = 1 - box area');
      sawCut ||= y1 > y0 && x1 > x0;
    }
    assert.equal(Array.from(plan.partner).sort(), [0, 1, 2, 3, 4, 5], 'partners are a permutation');
  }
  assert.ok(sawCut, 'a non-empty CutMix box');
});

test('Beta(a, a) samples: mean 1/2, in [0, 1], for a < 1 and a >= 1', () => {
  for (const a of [0.2, 1, 3]) {
    const rng = new Rng(11);
    let s = 0, s2 = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const v = sampleBeta(rng, a);
      assert.ok(v >= 0 && v <= 1);
      s += v;
      s2 += v * v;
    }
    const mean = s / n, variance = s2 / n - mean * mean, want = 1 / (4 * (2 * a + 1));
    assert.ok(Math.abs(mean - 0.5) < 0.03, `mean ${mean} for a=${a}`);
    assert.ok(Math.abs(variance - want) < 0.15 * want, `variance ${variance} vs ${want} for a=${a}`);
  }
});

test('shuffling: a permutation per epoch, reshuffled each epoch, fixed by the seed; dropLast', async () => {
  const d = synth(10, 1, 2, 2);
  const loader = new DataLoader(d, { batchSize: 4, seed: 5, prefetch: false });
  assert.is(loader.numBatches, 3);
  const epochs: number[][] = [[], []];
  for (let e = 0; e < 2; e++)
    for await (const b of loader.batches()) {
      assert.is(b.epoch, e);
      epochs[e].push(...b.indices);
    }
  assert.equal([...epochs[0]].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal([...epochs[1]].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.not.equal(epochs[0], epochs[1], 'reshuffled');
  assert.equal(epochs[0], Array.from(epochOrder(10, 5, 0)));
  assert.equal(epochs[1], Array.from(epochOrder(10, 5, 1)));
  assert.not.equal(Array.from(epochOrder(10, 6, 0)), epochs[0], 'another seed, another order');
  assert.equal(Array.from(epochOrder(10, 5, 3, false)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const dl = new DataLoader(d, { batchSize: 4, dropLast: true, shuffle: false, prefetch: false });
  assert.is(dl.numBatches, 2);
  const sizes = (await take(dl, 3)).map((b) => b.labels.length);
  assert.equal(sizes, [4, 4, 4]);
  assert.is((await take(new DataLoader(d, { batchSize: 4, shuffle: false, prefetch: false }), 3))[2].labels.length, 2);
});

test('the worker computes exactly what the main thread does; runs repeat', async () => {
  const d = synth(11, 2, 4, 5);
  const withWorker = new DataLoader(d, { ...AUG, prefetch: true });
  const without = new DataLoader(d, { ...AUG, prefetch: false });
  const again = new DataLoader(d, { ...AUG, prefetch: true });
  const a = await take(withWorker, 7), b = await take(without, 7), c = await take(again, 7);
  sameBatches(a, b, 'worker vs main thread');
  sameBatches(a, c, 'two runs');
  assert.ok(a.some((x) => x.epoch === 1), 'crossed an epoch boundary');
  assert.is(withWorker.prefetchedBatches, 6, 'every batch after the first came from the worker');
  assert.is(without.prefetchedBatches, 0);
  const other = await take(new DataLoader(d, { ...AUG, seed: 8, prefetch: false }), 1);
  assert.not.ok(Buffer.from(other[0].x.buffer).equals(Buffer.from(a[0].x.buffer)), 'another seed differs');
  await withWorker.close();
  await again.close();
});

test('resume from a saved position gives the same remaining batches', async () => {
  const d = synth(9, 2, 4, 5);
  const first = new DataLoader(d, { ...AUG, batchSize: 2 });
  await take(first, 7); // one epoch (5 batches) and 2 more
  const saved = JSON.parse(JSON.stringify(first.state()));
  assert.equal([saved.epoch, saved.batch], [1, 2]);
  const rest = await take(first, 6);
  const resumed = new DataLoader(d, { ...AUG, batchSize: 2 });
  resumed.setState(saved);
  sameBatches(await take(resumed, 6), rest, 'resumed');
  assert.is(resumed.prefetchedBatches, 5);
  const resumedNoWorker = new DataLoader(d, { ...AUG, batchSize: 2, prefetch: false });
  resumedNoWorker.setState(saved);
  sameBatches(await take(resumedNoWorker, 6), rest, 'resumed without the worker');
  await first.close();
  await resumed.close();
});

test('Fashion-MNIST sample padded to 32x32, to tensors without leaks', async () => {
  const s = loadFashionMnist({ dir: fashionMnistSampleDir() });
  const loader = new DataLoader(s.test, { batchSize: 16, padTo: 32, mean: [0.286], std: [0.353], seed: 1 });
  const b = await loader.next();
  assert.equal(b.shape, [16, 1, 32, 32]);
  const bg = -0.286 / 0.353;
  for (let i = 0; i < 16; i++) {
    assert.ok(Math.abs(b.x[i * 1024] - bg) < 1e-6 && Math.abs(b.x[i * 1024 + 1023] - bg) < 1e-6, 'padded corners');
    const src = s.test.images[b.indices[i] * 784 + 14 * 28 + 14];
    assert.ok(Math.abs(b.x[i * 1024 + 16 * 32 + 16] - (src / 255 - 0.286) / 0.353) < 1e-5, 'centre pixel');
  }
  assertNoLeak('batchToTensors', () => scope(() => {
    const { x, y } = batchToTensors(b);
    assert.equal([x.shape, x.dtype, y.shape, y.dtype], [[16, 1, 32, 32], 'float32', [16], 'int64']);
    assert.equal(y.toArray(), Array.from(b.labels, Number));
  }));
  const mixed = await new DataLoader(s.test, { batchSize: 8, mixupAlpha: 0.2, numClasses: 10, prefetch: false }).next();
  assertNoLeak('batchToTensors soft', () => scope(() => {
    const { y } = batchToTensors(mixed);
    assert.equal([y.shape, y.dtype], [[8, 10], 'float32']);
  }));
  await loader.close();
});

test('errors', () => {
  const d = synth(4, 1, 2, 2);
  assertThrows(() => new DataLoader(d, { batchSize: 0 }), /DataLoader: expected an integer >= 1 for batchSize but received 0/);
  assertThrows(() => new DataLoader(d, { batchSize: 5, dropLast: true }), /DataLoader: expected at most 4 with dropLast for batchSize but received 5/);
  assertThrows(() => new DataLoader({ ...d, n: 5 }, { batchSize: 1 }), /DataLoader: expected 20 bytes \(n\*c\*h\*w = 5\*1\*2\*2\) for images but received 16/);
  assertThrows(() => new DataLoader({ ...d, labels: new Uint8Array(3) }, { batchSize: 1 }), /expected 4 labels for labels but received 3/);
  assertThrows(() => new DataLoader({ ...d, images: [1] as never }, { batchSize: 1 }), /expected a Uint8Array for images but received \[1\]/);
  assertThrows(() => new DataLoader(d, { batchSize: 1, mean: [0, 0] }), /expected 1 finite numbers for mean but received \[0, 0\]/);
  assertThrows(() => new DataLoader(d, { batchSize: 1, std: [0] }), /expected 1 positive numbers for std but received \[0\]/);
  assertThrows(() => new DataLoader(d, { batchSize: 1, padTo: 1 }), /expected an integer >= 2 for padTo but received 1/);
  assertThrows(() => new DataLoader(d, { batchSize: 1, mixupAlpha: -1 }), /expected a finite number >= 0 for mixupAlpha but received -1/);
  assertThrows(() => new DataLoader(d, { batchSize: 1, numClasses: 2 }), /expected an integer >= 4 for numClasses but received 2/);
  const l = new DataLoader(d, { batchSize: 2, seed: 1, prefetch: false });
  assertThrows(() => l.setState({ ...l.state(), seed: 2 }), /expected 1 for state.seed but received 2/);
  assertThrows(() => l.setState({ ...l.state(), batch: 2 }), /expected a batch index < 2 for state.batch but received 2/);
  assertThrows(() => l.setState({ ...l.state(), rng: [1] }), /expected 4 uint32 words for state.rng but received \[1\]/);
});

test.run();

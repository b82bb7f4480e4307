// FolderLoader: the same batches for 1 and 3 workers and after state() / setState(), the
// evaluation transform as transformImage gives it, mixup / CutMix targets, bad images (an
// error naming the file, or skipped and counted), the shares of 2 and 3 ranks (one loader's
// batches, with bad images left out too), close() while the workers are busy, and memory
// that stays flat over many epochs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Batch } from '../../../lib/data/loader';
import { readImageFile } from '../../../lib/data/images/decode';
import { scanImageFolder, type FolderDataset } from '../../../lib/data/images/folder';
import { FolderLoader, type FolderLoaderOptions } from '../../../lib/data/images/folder-loader';
import { datasetMeanStd } from '../../../lib/data/images/stats';
import { transformImage, transformSpec } from '../../../lib/data/images/transform';
import { Rng } from '../../../lib/rng';
import { assertRejects, assertThrows } from '../../helpers';
import { buildImageFolder, writeBadImages } from './folder-fixture';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-folder-loader-'));
let ds: FolderDataset;
const SIZES: [number, number][] = [[120, 90], [100, 130], [96, 96], [80, 64]];
const AUG: FolderLoaderOptions = {
  batchSize: 5, size: 72, train: true, seed: 5, randAugment: 'rand-m9-mstd0.5-inc1', erasing: 0.25, mixupAlpha: 0.4, cutmixAlpha: 1, prefetch: 2,
};

test.before(async () => {
  const fx = await buildImageFolder({ perClass: 3, classes: 4, sizes: SIZES, dir: path.join(tmp, 'folder') });
  ds = scanImageFolder(fx.dir);
});
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function take(l: FolderLoader, n: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < n; i++) out.push(await l.next());
  return out;
}

function same(a: Batch[], b: Batch[], what: string): void {
  assert.is(a.length, b.length);
  a.forEach((x, i) => {
    const y = b[i];
    assert.equal([x.epoch, x.index, x.shape], [y.epoch, y.index, y.shape], `${what}: position ${i}`);
    assert.equal(Array.from(x.indices), Array.from(y.indices), `${what}: rows of batch ${i}`);
    assert.ok(Buffer.from(x.x.buffer).equals(Buffer.from(y.x.buffer)), `${what}: pixels of batch ${i}`);
    assert.equal(x.labels, y.labels, `${what}: labels ${i}`);
    assert.equal(x.targets && Array.from(x.targets), y.targets && Array.from(y.targets), `${what}: targets ${i}`);
  });
}

test('the same batches with 1 and 3 workers (and on the main thread), over two epochs', async () => {
  const runs: Batch[][] = [];
  for (const workers of [1, 3, 0]) {
    const l = new FolderLoader(ds, { ...AUG, workers });
    assert.is(l.numBatches, 3);
    runs.push(await take(l, 6));
    assert.is(l.epoch, 2);
    await l.close();
  }
  same(runs[0], runs[1], '1 vs 3 workers');
  same(runs[0], runs[2], '1 worker vs the main thread');
  const b = runs[0][0];
  assert.equal(b.shape, [5, 3, 72, 72]);
  assert.is(b.numClasses, 4);
  for (let r = 0; r < 5; r++) {
    const row = Array.from(b.targets!.subarray(r * 4, r * 4 + 4));
    assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6, 'soft targets sum to 1');
  }
  assert.ok(!Buffer.from(runs[0][0].x.buffer).equals(Buffer.from(runs[0][3].x.buffer)), 'epochs differ');
  assert.equal(runs[0][2].shape[0], 2, 'the last batch of 12 holds 2');
});

test("resampler 'libvips': deterministic too, and close to 'pil' on evaluation batches", async () => {
  const runs: Batch[][] = [];
  for (const workers of [1, 2]) {
    const l = new FolderLoader(ds, { ...AUG, workers, resampler: 'libvips' });
    runs.push(await take(l, 3));
    await l.close();
  }
  same(runs[0], runs[1], "'libvips', 1 vs 2 workers");
  const ev = async (resampler: 'pil' | 'libvips') => {
    const l = new FolderLoader(ds, { batchSize: 12, size: 72, workers: 1, shuffle: false, resampler, mean: [0, 0, 0], std: [1, 1, 1] });
    const b = await l.next();
    await l.close();
    return b.x;
  };
  const [p, v] = [await ev('pil'), await ev('libvips')];
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += Math.abs(p[i] - v[i]) * 255;
  assert.ok(sum / p.length < 3, `mean difference ${(sum / p.length).toFixed(2)} of 255`);
});

test('resume: setState(state()) gives the remaining batches; bad states are refused', async () => {
  const a = new FolderLoader(ds, { ...AUG, workers: 1 });
  const first = await take(a, 2), st = a.state(), rest = await take(a, 3);
  await a.close();
  const b = new FolderLoader(ds, { ...AUG, workers: 2 });
  await b.next(); // in the middle of something else
  b.setState(st);
  same(await take(b, 3), rest, 'resumed');
  assert.equal([st.epoch, st.batch], [0, 2]);
  assertThrows(() => b.setState({ ...st, seed: 6 }), /^FolderLoader: expected 5 for state\.seed but received 6$/);
  assertThrows(() => b.setState({ ...st, batch: 3 }), /expected a batch index < 3 for state\.batch but received 3/);
  assertThrows(() => b.setState({ ...st, rng: [1, 2, 3, 4] }), /expected a FolderLoader's state\(\) \(the batch's own Rng words\) for state\.rng/);
  await b.close();
  assert.ok(first.length === 2);
});

test('evaluation batches are transformImage of each file, in order', async () => {
  const l = new FolderLoader(ds, { batchSize: 4, size: 80, shuffle: false, workers: 2 });
  const b = await l.next();
  assert.equal(Array.from(b.indices), [0, 1, 2, 3]);
  assert.is(b.targets, undefined);
  for (let i = 0; i < 4; i++) {
    const want = await transformImage(readImageFile(ds.files[i]), ds.files[i], l.spec, new Rng(0));
    assert.ok(Buffer.from(b.x.buffer, i * want.byteLength, want.byteLength).equals(Buffer.from(want.buffer)), `image ${i}`);
    assert.is(Number(b.labels[i]), ds.labels[i]);
  }
  const grey = new FolderLoader(ds, { batchSize: 3, size: 28, channels: 1, train: true, workers: 1, mean: [0.5], std: [0.5] });
  assert.equal((await grey.next()).shape, [3, 1, 28, 28], 'small grey images: the pad-and-crop recipe');
  await Promise.all([l.close(), grey.close()]);
});

test('bad images: an error naming the file, or skipped and counted', async () => {
  const bad = await writeBadImages(path.join(tmp, 'folder', ds.classes[0]));
  const withBad = scanImageFolder(path.join(tmp, 'folder'));
  const l = new FolderLoader(withBad, { batchSize: withBad.files.length, size: 72, workers: 2, shuffle: false });
  await assertRejects(l.next(), /^decodeImage: expected .* for .*(corrupt\.png|truncated\.jpg|empty\.jpg|notes\.jpg|huge\.png) but received/);
  await l.close();
  const s = new FolderLoader(withBad, { batchSize: withBad.files.length, size: 72, workers: 2, shuffle: false, skipBadImages: true });
  const b = await s.next();
  assert.is(b.shape[0], withBad.files.length - 5);
  assert.is(s.skippedImages, 5);
  assert.equal([...s.badFiles].sort(), Object.values(bad).sort());
  await s.next();
  assert.equal([s.skippedImages, s.badFiles.size], [10, 5], 'counted again in the next epoch');
  await s.close();
  for (const f of Object.values(bad)) fs.rmSync(f);
});

/** The ranks' shares of a batch, joined, are `whole`: rows, labels, pixels and soft targets. */
function joined(parts: Batch[], whole: Batch, what: string): void {
  assert.equal(parts.flatMap((p) => Array.from(p.indices)), Array.from(whole.indices), `${what}: rows`);
  assert.equal(parts.flatMap((p) => Array.from(p.labels)), Array.from(whole.labels), `${what}: labels`);
  assert.ok(Buffer.concat(parts.map((p) => Buffer.from(p.x.buffer))).equals(Buffer.from(whole.x.buffer)), `${what}: pixels`);
  assert.equal(parts.flatMap((p) => Array.from(p.targets ?? [])), Array.from(whole.targets ?? []), `${what}: soft targets`);
  for (const p of parts) assert.equal(p.shape.slice(1), whole.shape.slice(1), `${what}: image shape`);
}

/** Every rank's first `n` batches, for a world of `worldSize`. */
async function rankBatches(data: FolderDataset, opts: FolderLoaderOptions, worldSize: number, n: number): Promise<{ batches: Batch[][]; loaders: FolderLoader[] }> {
  const loaders = Array.from({ length: worldSize }, (_, rank) => new FolderLoader(data, { ...opts, shard: { rank, worldSize } }));
  return { batches: await Promise.all(loaders.map((l) => take(l, n))), loaders };
}

test("the loaders of 2 and 3 ranks yield one loader's batches, augmented and mixed the same, with one state", async () => {
  // every batch mixed: most partners are on other ranks
  const opts: FolderLoaderOptions = { ...AUG, batchSize: 6, workers: 1 };
  const one = new FolderLoader(ds, opts);
  const whole = await take(one, 4);
  assert.ok(whole.every((b) => b.targets), 'mixed batches');
  for (const worldSize of [2, 3]) {
    const { batches, loaders } = await rankBatches(ds, opts, worldSize, 4);
    whole.forEach((b, k) => {
      joined(batches.map((r) => r[k]), b, `${worldSize} ranks, batch ${k}`);
      for (const r of batches) assert.is(r[k].globalSize, 6);
    });
    for (const l of loaders) assert.equal(l.state(), one.state());
    await Promise.all(loaders.map((l) => l.close()));
  }
  await one.close();
});

test("with bad images left out, the ranks' shares are still one loader's batches; each rank counts its own", async () => {
  const dir = path.join(tmp, 'with-bad');
  const fx = await buildImageFolder({ perClass: 3, classes: 4, sizes: SIZES, dir });
  await writeBadImages(path.join(dir, fx.classes[1]));
  const data = scanImageFolder(dir);
  const opts: FolderLoaderOptions = { ...AUG, batchSize: 6, workers: 1, skipBadImages: true };
  const one = new FolderLoader(data, opts);
  assert.is(one.numBatches, 3);
  const whole = await take(one, 3);
  assert.is(one.skippedImages, 5);
  assert.equal(whole.map((b) => b.globalSize), whole.map((b) => b.labels.length), 'one process: its batches');
  const { batches, loaders } = await rankBatches(data, opts, 2, 3);
  whole.forEach((b, k) => joined(batches.map((r) => r[k]), b, `2 ranks, batch ${k}`));
  assert.ok(batches.flat().every((b) => b.globalSize === undefined), 'the global batch is not known to a rank');
  assert.is(loaders.reduce((n, l) => n + l.skippedImages, 0), 5);
  await Promise.all(loaders.map((l) => l.close()));
  await one.close();
  fx.remove();
});

test("a rank's share with no image that decodes: an error for training, an empty batch for evaluation (minPerRank 0)", async () => {
  const dir = path.join(tmp, 'bad-share');
  await writeBadImages(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'b'));
  for (const f of ds.files.slice(0, 5)) fs.copyFileSync(f, path.join(dir, 'b', path.basename(f)));
  const data = scanImageFolder(dir);  // a/: 5 bad files first, then b/: 5 images
  const opts: FolderLoaderOptions = { batchSize: 10, size: 72, workers: 1, shuffle: false, skipBadImages: true };
  const train = new FolderLoader(data, { ...opts, shard: { rank: 0, worldSize: 2 } });
  await assertRejects(train.next(), /^FolderLoader: every image of this rank's share of batch 0 of epoch 0 failed to decode \(every rank trains on one at least: fewer ranks or a larger batch\), e\.g\. decodeImage: /);
  await train.close();
  const shares = [0, 1].map((rank) => new FolderLoader(data, { ...opts, shard: { rank, worldSize: 2, minPerRank: 0 } }));
  const [none, all] = await Promise.all(shares.map((l) => l.next()));
  assert.equal([none.shape[0], all.shape[0], shares[0].skippedImages, shares[1].skippedImages], [0, 5, 5, 0]);
  await Promise.all(shares.map((l) => l.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('close() while the workers are busy ends them; the loader starts again after', async () => {
  const l = new FolderLoader(ds, { ...AUG, batchSize: 12, workers: 3, prefetch: 3 });
  const pending = l.next().then(() => null, (e: Error) => e);
  await new Promise((r) => setTimeout(r, 20));
  await l.close();
  assert.match((await pending)?.message ?? 'resolved', /^FolderLoader: closed$/);
  const again = await l.next();
  assert.is(again.shape[0], 12);
  await l.close();
  await l.close();
});

test('memory stays flat over many epochs', async () => {
  const l = new FolderLoader(ds, { ...AUG, batchSize: 6, workers: 2 });
  const epoch = async () => {
    for await (const b of l.batches()) assert.ok(b.x.length > 0);
  };
  for (let e = 0; e < 3; e++) await epoch();
  global.gc?.();
  const before = process.memoryUsage().rss;
  for (let e = 0; e < 12; e++) await epoch();
  global.gc?.();
  const grown = (process.memoryUsage().rss - before) / 2 ** 20;
  assert.ok(grown < 64, `rss grew ${grown.toFixed(1)} MiB over 12 epochs`);
  await l.close();
});

test("datasetMeanStd: the evaluation images' per-channel mean and std", async () => {
  const { mean, std } = await datasetMeanStd(ds, { size: 72, workers: 1 });
  const spec = transformSpec({ size: 72, mean: [0, 0, 0], std: [1, 1, 1] }), sum = [0, 0, 0], sq = [0, 0, 0], plane = 72 * 72;
  for (const f of ds.files) {
    const x = await transformImage(readImageFile(f), f, spec, new Rng(0));
    for (let ch = 0; ch < 3; ch++)
      for (let k = 0; k < plane; k++) {
        sum[ch] += x[ch * plane + k];
        sq[ch] += x[ch * plane + k] ** 2;
      }
  }
  const n = plane * ds.files.length;
  for (let ch = 0; ch < 3; ch++) {
    const m = sum[ch] / n;
    assert.ok(Math.abs(mean[ch] - m) < 1e-6 && Math.abs(std[ch] - Math.sqrt(sq[ch] / n - m * m)) < 1e-6, `channel ${ch}`);
  }
  assert.ok(mean[0] > 0.05 && mean[0] < 0.95 && std[0] > 0.05, `plausible: ${mean} ${std}`);
});

test('option checks', () => {
  assertThrows(() => new FolderLoader(ds, { batchSize: 0 }), /^FolderLoader: expected an integer >= 1 for batchSize but received 0$/);
  assertThrows(() => new FolderLoader({ ...ds, files: [] }, { batchSize: 1 }), /expected a non-empty list of image files for data\.files/);
  assertThrows(() => new FolderLoader(ds, { batchSize: 13, dropLast: true }), /expected at most 12 with dropLast for batchSize but received 13/);
  assertThrows(() => new FolderLoader(ds, { batchSize: 2, workers: -1 }), /expected an integer >= 0 for workers but received -1/);
  assertThrows(() => new FolderLoader(ds, { batchSize: 2, numClasses: 2 }), /expected an integer >= 4 for numClasses but received 2/);
});

test.run();

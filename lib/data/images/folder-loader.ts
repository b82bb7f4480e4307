// FolderLoader: batches from an image folder (FolderDataset), with the DataLoader's interface
// (BatchSource: next(), batches(), state() / setState(), close(), epoch) and its Batch.
//
// Each sample is read, decoded and transformed on a worker thread (SamplePool); up to
// `prefetch` batches are in flight at once, so memory is bounded by prefetch * batchSize
// samples, and the next batches render while the model runs on the current one.
//
// Determinism: the order of epoch e is epochOrder(n, seed, e) (DistributedSampler); a sample's
// augmentation comes from sampleRng(seed, e, row) and a batch's mixup / CutMix from
// batchRng(seed, e, batch), drawn for the batch as sampled. So the batches are the same for
// any number of workers and after setState(state()).
//
// A rank of a distributed world (the shard option) renders its rows of every global batch,
// and the partners other ranks hold of the rows it mixes: the ranks' batches together are
// exactly one process's. An image left out (skipBadImages) leaves its row out of the batch;
// a row whose partner was left out is mixed with itself (its own image and label).
import * as os from 'node:os';
import { describe, fail, RepmlpError } from '../../errors';
import { mixBatch, planMix, type MixSpec } from '../augment';
import type { BatchSource } from '../batch-source';
import type { Batch, LoaderState } from '../loader';
import { DistributedSampler, type ShardOptions } from '../sampler';
import type { FolderDataset } from './folder';
import { SamplePool } from './sample-pool';
import type { SampleResult } from './sample-task';
import { batchRng } from './seeds';
import { transformSpec, type ImageTransformOptions, type TransformSpec } from './transform';

export interface FolderLoaderOptions extends ImageTransformOptions {
  batchSize: number;
  /** reshuffle every epoch (default true) */
  shuffle?: boolean;
  seed?: number;
  /** drop the last incomplete batch (default false) */
  dropLast?: boolean;
  /** Beta(alpha, alpha) mixup / CutMix (0 = off; both on: one of them per batch) */
  mixupAlpha?: number;
  cutmixAlpha?: number;
  /** number of classes for soft targets (default: the data set's) */
  numClasses?: number;
  /** worker threads (default: the number of CPU cores; 0 = on the main thread) */
  workers?: number;
  /** samples in flight per worker (default 2: one decoding while another transforms) */
  perWorker?: number;
  /** batches rendered ahead (default 2) */
  prefetch?: number;
  /** leave out images that cannot be decoded (counted in skippedImages) instead of failing (default false) */
  skipBadImages?: boolean;
  /**
   * This rank's share of a distributed world: batchSize is then the global batch, of which
   * the loader yields rank's rows; minPerRank as DistributedSampler's (default 1)
   */
  shard?: ShardOptions;
}

const OP = 'FolderLoader';

/** A rendered batch and the files of the images left out of it. */
interface Rendered {
  batch: Batch;
  skipped: string[];
}

function int(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(OP, name, `an integer >= ${min}`, describe(v));
  return v as number;
}

function alpha(name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) fail(OP, name, 'a finite number >= 0', describe(v));
  return v as number;
}

/** The default worker count: the CPU cores this process may use. */
export function defaultWorkers(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

export class FolderLoader implements BatchSource {
  readonly batchSize: number;
  readonly numBatches: number;
  readonly spec: TransformSpec;
  readonly workers: number;
  /** images left out of the batches returned so far (skipBadImages), and the distinct files among them */
  skippedImages = 0;
  readonly badFiles = new Set<string>();
  private readonly data: FolderDataset;
  private readonly seed: number;
  private readonly sampler: DistributedSampler;
  private readonly prefetch: number;
  private readonly perWorker: number;
  private readonly skipBad: boolean;
  private readonly mix: MixSpec;
  private epochNo = 0;
  private batch = 0;
  private pool: SamplePool | null = null;
  /** batches in flight, keyed `${epoch}:${batch}`, in order, with the files left out of each */
  private ahead = new Map<string, Promise<Rendered>>();

  constructor(data: FolderDataset, opts: FolderLoaderOptions) {
    if (!data || !Array.isArray(data.files) || data.files.length === 0) fail(OP, 'data.files', 'a non-empty list of image files', describe(data?.files));
    if (!(data.labels instanceof Int32Array) || data.labels.length !== data.files.length)
      fail(OP, 'data.labels', `an Int32Array of ${data.files.length} labels`, describe(data.labels));
    const n = data.files.length;
    this.batchSize = int('batchSize', opts.batchSize, 1);
    const dropLast = opts.dropLast ?? false;
    if (dropLast && this.batchSize > n) fail(OP, 'batchSize', `at most ${n} with dropLast`, `${this.batchSize}`);
    this.spec = transformSpec(opts);
    let maxLabel = 0;
    for (const l of data.labels) maxLabel = Math.max(maxLabel, l);
    const numClasses = opts.numClasses === undefined ? Math.max(data.classes.length, maxLabel + 1) : int('numClasses', opts.numClasses, maxLabel + 1);
    this.mix = {
      mixupAlpha: alpha('mixupAlpha', opts.mixupAlpha ?? 0), cutmixAlpha: alpha('cutmixAlpha', opts.cutmixAlpha ?? 0),
      outH: this.spec.outputSize, outW: this.spec.outputSize, numClasses,
    };
    this.data = data;
    this.seed = int('seed', opts.seed ?? 0, 0) >>> 0;
    const shard = opts.shard ?? { rank: 0, worldSize: 1 };
    this.sampler = new DistributedSampler(n, { ...shard, batchSize: this.batchSize, shuffle: opts.shuffle ?? true, seed: this.seed, dropLast });
    this.numBatches = this.sampler.numBatches;
    this.workers = int('workers', opts.workers ?? defaultWorkers(), 0);
    this.perWorker = int('perWorker', opts.perWorker ?? 2, 1);
    this.prefetch = int('prefetch', opts.prefetch ?? 2, 1);
    this.skipBad = opts.skipBadImages ?? false;
  }

  get epoch(): number {
    return this.epochNo;
  }

  get numClasses(): number {
    return this.mix.numClasses;
  }

  state(): LoaderState {
    return { seed: this.seed, epoch: this.epochNo, batch: this.batch, rng: batchRng(this.seed, this.epochNo, this.batch).getState() };
  }

  setState(s: LoaderState): void {
    if (!s || s.seed !== this.seed) fail(OP, 'state.seed', `${this.seed}`, describe(s?.seed));
    int('state.epoch', s.epoch, 0);
    int('state.batch', s.batch, 0);
    if (s.batch >= this.numBatches) fail(OP, 'state.batch', `a batch index < ${this.numBatches}`, `${s.batch}`);
    const rng = batchRng(this.seed, s.epoch, s.batch).getState();
    if (!Array.isArray(s.rng) || s.rng.length !== 4 || s.rng.some((v, i) => v !== rng[i]))
      fail(OP, 'state.rng', "a FolderLoader's state() (the batch's own Rng words)", describe(s.rng));
    this.epochNo = s.epoch;
    this.batch = s.batch;
    this.ahead.clear();
  }

  async next(): Promise<Batch> {
    const epoch = this.epochNo, index = this.batch;
    this.fill(epoch, index);
    const key = `${epoch}:${index}`, p = this.ahead.get(key)!;
    let b: Batch;
    try {
      const r = await p;
      b = r.batch;
      // counted when the batch is taken: a prefetched batch that is never asked for skips nothing
      this.skippedImages += r.skipped.length;
      for (const f of r.skipped) this.badFiles.add(f);
    } finally {
      this.ahead.delete(key);
    }
    if (this.epochNo === epoch && this.batch === index) {
      if (++this.batch === this.numBatches) {
        this.batch = 0;
        this.epochNo++;
      }
      this.fill(this.epochNo, this.batch);
    }
    return b;
  }

  async *batches(): AsyncGenerator<Batch> {
    const e = this.epochNo;
    while (this.epochNo === e) yield await this.next();
  }

  async close(): Promise<void> {
    this.ahead.clear();
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.close();
  }

  /** Starts the batches from (epoch, index) on until `prefetch` are in flight. */
  private fill(epoch: number, index: number): void {
    for (let k = 0; k < this.prefetch; k++) {
      const key = `${epoch}:${index}`;
      if (!this.ahead.has(key)) {
        const p = this.render(epoch, index);
        p.catch(() => undefined); // awaited by next(); a dropped one must not be an unhandled rejection
        this.ahead.set(key, p);
      }
      if (++index === this.numBatches) {
        index = 0;
        epoch++;
      }
    }
  }

  /**
   * Renders this rank's rows of global batch `index` of `epoch` (all of it in a world of one),
   * with the partners held by other ranks of the rows it mixes.
   */
  private async render(epoch: number, index: number): Promise<Rendered> {
    this.pool ??= new SamplePool(this.workers, this.perWorker, { spec: this.spec, seed: this.seed });
    const pool = this.pool, rows = this.sampler.globalBatch(epoch, index), [lo, hi] = this.sampler.share(rows.length);
    const s = this.spec, side = s.outputSize, per = s.channels * side * side;
    const mix = planMix(batchRng(this.seed, epoch, index), rows.length, this.mix);
    const own = Array.from({ length: hi - lo }, (_, i) => lo + i);
    const partners = mix.mix === 'none' ? [] : [...new Set(own.map((p) => mix.partner[p]).filter((q) => q < lo || q >= hi))];
    const results = new Map<number, SampleResult>();
    await Promise.all([...own, ...partners].map(async (p) => results.set(p, await pool.run({ file: this.data.files[rows[p]], index: rows[p], epoch }))));
    const kept: number[] = [], skipped: string[] = [];
    for (const p of own) {
      const error = results.get(p)!.error;
      if (error === undefined) kept.push(p);
      else if (this.skipBad) skipped.push(this.data.files[rows[p]]);
      else throw new RepmlpError(error);
    }
    // a partner of another rank's share is that rank's to count; it stops this one as it stops that one
    const bad = partners.find((q) => results.get(q)!.error !== undefined);
    if (bad !== undefined && !this.skipBad) throw new RepmlpError(results.get(bad)!.error!);
    if (kept.length === 0 && own.length > 0 && this.sampler.minPerRank > 0) {
      const [share, need] = this.sampler.worldSize > 1 ? ["this rank's share of ", ' (every rank trains on one at least: fewer ranks or a larger batch)'] : ['', ''];
      throw new RepmlpError(`${OP}: every image of ${share}batch ${index} of epoch ${epoch} failed to decode${need}, e.g. ${results.get(lo)!.error}`);
    }
    const B = kept.length, x = new Float32Array(B * per), labels = new BigInt64Array(B), indices = new Int32Array(B);
    kept.forEach((p, b) => {
      x.set(results.get(p)!.x!, b * per);
      labels[b] = BigInt(this.data.labels[rows[p]]);
      indices[b] = rows[p];
    });
    const mixed = mixBatch(x, labels, s.channels, this.mix, mix, (b) => {
      const q = results.get(mix.partner[kept[b]])!.x ? mix.partner[kept[b]] : kept[b];
      return { x: results.get(q)!.x!, at: 0, label: this.data.labels[rows[q]] };
    });
    // Leaving images out, the ranks know their own shares' sizes only: the trainer sums them.
    const globalSize = this.sampler.worldSize === 1 ? B : this.skipBad ? undefined : rows.length;
    const batch: Batch = {
      x: mixed.x, shape: [B, s.channels, side, side], labels, targets: mixed.targets,
      numClasses: this.mix.numClasses, epoch, index, indices, globalSize,
    };
    return { batch, skipped };
  }
}

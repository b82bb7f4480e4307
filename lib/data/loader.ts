// DataLoader over an in-memory image data set: seeded per-epoch shuffling, batching,
// padding, normalisation, random crop / flip, mixup / CutMix, and a worker thread that
// renders the next batch while the model runs on the current one.
//
// Determinism: the order of epoch e is a function of (seed, e) only. Every other random choice
// is drawn, batch after batch, from one augmentation Rng on the main thread (planBatch), so the
// worker renders exactly what the main thread would. state() / setState() save and restore
// (epoch, batch, Rng state): a resumed run yields the same remaining batches.
//
// A rank of a distributed world (the shard option) plans every global batch as one process
// would, with the same Rng draws, and renders its own rows of it (sampler.ts): the ranks'
// batches together are exactly one process's, augmentation included, and every rank's
// state() is the same.
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { tensor } from '../creation';
import { describe, fail, RepmlpError } from '../errors';
import { Rng } from '../rng';
import type { Device, Tensor } from '../tensor';
import type { BatchSource } from './batch-source';
import { planBatch, renderBatch, type BatchPlan, type Rendered, type RenderSpec } from './augment';
import { DistributedSampler, type ShardOptions } from './sampler';
import { spawnWorker, terminateWorker } from './worker';

export { epochOrder } from './sampler';

/** (n, c, h, w) uint8 images and their labels; c defaults to 1 (Fashion-MNIST splits fit as they are). */
export interface ImageDataset {
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
  c?: number;
  h: number;
  w: number;
}

export interface DataLoaderOptions {
  batchSize: number;
  /** reshuffle every epoch (default true) */
  shuffle?: boolean;
  seed?: number;
  /** drop the last incomplete batch (default false) */
  dropLast?: boolean;
  /** per-channel mean and std in units of pixel/255 (default 0 and 1) */
  mean?: number[];
  std?: number[];
  /** zero-pad (centred) to this size, e.g. 32 for Fashion-MNIST in the `small` preset */
  padTo?: number | [number, number];
  /** random crop after padding each side with this many zeros (0 = off) */
  cropPadding?: number;
  /** random horizontal flip with probability 1/2 */
  flip?: boolean;
  /** Beta(alpha, alpha) mixup / CutMix (0 = off; both on: one of them per batch, chosen at random) */
  mixupAlpha?: number;
  cutmixAlpha?: number;
  /** number of classes for soft targets (default: largest label + 1) */
  numClasses?: number;
  /** render the next batch in a worker thread (default true) */
  prefetch?: boolean;
  /**
   * This rank's share of a distributed world: batchSize is then the global batch, of which
   * the loader yields rank's rows; minPerRank as DistributedSampler's (default 1)
   */
  shard?: ShardOptions;
}

export interface Batch {
  /** (B, C, H, W) normalised images */
  x: Float32Array;
  shape: [number, number, number, number];
  /** (B) hard labels */
  labels: BigInt64Array;
  /** (B, K) soft targets (rows sum to 1) when mixup or CutMix is on */
  targets?: Float32Array;
  numClasses: number;
  epoch: number;
  /** batch index within the epoch */
  index: number;
  /** (B) dataset rows in this batch */
  indices: Int32Array;
  /**
   * the images of the global batch this is a rank's share of; absent: this batch alone in a
   * world of one, or, in a larger one, not known to this rank (a FolderLoader that leaves
   * out images that cannot be decoded: the ranks sum their shares' sizes)
   */
  globalSize?: number;
}

export interface LoaderState {
  seed: number;
  epoch: number;
  batch: number;
  /** augmentation Rng state at the start of `batch` */
  rng: number[];
}

const OP = 'DataLoader';

function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(OP, name, `an integer >= ${min}`, describe(v));
  return v;
}

function checkAlpha(name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) fail(OP, name, 'a finite number >= 0', describe(v));
  return v;
}

interface Pending {
  epoch: number;
  batch: number;
  rngBefore: number[];
  rngAfter: number[];
  plan: BatchPlan;
  result: Promise<Rendered>;
}

export class DataLoader implements BatchSource {
  readonly batchSize: number;
  readonly numBatches: number;
  readonly spec: RenderSpec;
  private readonly data: ImageDataset;
  private readonly seed: number;
  private readonly prefetch: boolean;
  private epochNo = 0;
  private batch = 0;
  private rng: Rng;
  private readonly sampler: DistributedSampler;
  private pending: Pending | null = null;
  private worker: Worker | null = null;
  private nextId = 0;
  /** how many batches so far were rendered by the worker thread */
  prefetchedBatches = 0;
  private waiting = new Map<number, { resolve: (r: Rendered) => void; reject: (e: Error) => void }>();

  constructor(data: ImageDataset, opts: DataLoaderOptions) {
    if (!data || !(data.images instanceof Uint8Array)) fail(OP, 'images', 'a Uint8Array', describe(data?.images));
    if (!(data.labels instanceof Uint8Array)) fail(OP, 'labels', 'a Uint8Array', describe(data.labels));
    const n = checkInt('n', data.n, 1), c = checkInt('c', data.c ?? 1, 1);
    const h = checkInt('h', data.h, 1), w = checkInt('w', data.w, 1);
    if (data.images.length !== n * c * h * w)
      fail(OP, 'images', `${n * c * h * w} bytes (n*c*h*w = ${n}*${c}*${h}*${w})`, `${data.images.length}`);
    if (data.labels.length !== n) fail(OP, 'labels', `${n} labels`, `${data.labels.length}`);
    this.batchSize = checkInt('batchSize', opts.batchSize, 1);
    const dropLast = opts.dropLast ?? false;
    if (dropLast && this.batchSize > n) fail(OP, 'batchSize', `at most ${n} with dropLast`, `${this.batchSize}`);
    const pad = opts.padTo ?? [h, w];
    const [outH, outW] = typeof pad === 'number' ? [pad, pad] : pad;
    checkInt('padTo', outH, h);
    checkInt('padTo', outW, w);
    const mean = opts.mean ?? new Array(c).fill(0), std = opts.std ?? new Array(c).fill(1);
    if (!Array.isArray(mean) || mean.length !== c || !mean.every(Number.isFinite)) fail(OP, 'mean', `${c} finite numbers`, describe(mean));
    if (!Array.isArray(std) || std.length !== c || !std.every((s) => Number.isFinite(s) && s > 0))
      fail(OP, 'std', `${c} positive numbers`, describe(std));
    let maxLabel = 0;
    for (const l of data.labels) maxLabel = Math.max(maxLabel, l);
    const numClasses = opts.numClasses === undefined ? maxLabel + 1 : checkInt('numClasses', opts.numClasses, maxLabel + 1);
    this.spec = {
      c, h, w, outH, outW, mean: [...mean], std: [...std],
      cropPadding: checkInt('cropPadding', opts.cropPadding ?? 0, 0),
      flip: opts.flip ?? false,
      mixupAlpha: checkAlpha('mixupAlpha', opts.mixupAlpha ?? 0),
      cutmixAlpha: checkAlpha('cutmixAlpha', opts.cutmixAlpha ?? 0),
      numClasses,
    };
    this.data = { ...data, c };
    this.seed = (opts.seed ?? 0) >>> 0;
    this.prefetch = opts.prefetch ?? true;
    this.rng = new Rng(this.seed ^ 0x5bd1e995);
    const shard = opts.shard ?? { rank: 0, worldSize: 1 };
    this.sampler = new DistributedSampler(n, { ...shard, batchSize: this.batchSize, shuffle: opts.shuffle ?? true, seed: this.seed, dropLast });
    this.numBatches = this.sampler.numBatches;
  }

  /** The epoch of the next batch. */
  get epoch(): number {
    return this.epochNo;
  }

  /** Position and augmentation Rng state of the next batch. */
  state(): LoaderState {
    return { seed: this.seed, epoch: this.epochNo, batch: this.batch, rng: this.rng.getState() };
  }

  /** Restores a state() (of a loader built with the same data and options). */
  setState(s: LoaderState): void {
    if (!s || s.seed !== this.seed) fail(OP, 'state.seed', `${this.seed}`, describe(s?.seed));
    checkInt('state.epoch', s.epoch, 0);
    checkInt('state.batch', s.batch, 0);
    if (s.batch >= this.numBatches) fail(OP, 'state.batch', `a batch index < ${this.numBatches}`, `${s.batch}`);
    if (!Array.isArray(s.rng) || s.rng.length !== 4) fail(OP, 'state.rng', '4 uint32 words', describe(s.rng));
    this.epochNo = s.epoch;
    this.batch = s.batch;
    this.rng.setState(s.rng);
    this.pending = null;
  }

  /** The next batch; after the last batch of an epoch the next epoch starts. */
  async next(): Promise<Batch> {
    const epoch = this.epochNo, index = this.batch;
    const before = this.rng.getState();
    let plan: BatchPlan, rendered: Rendered;
    const p = this.pending;
    this.pending = null;
    if (p && p.epoch === epoch && p.batch === index && p.rngBefore.every((v, i) => v === before[i])) {
      plan = p.plan;
      rendered = await p.result;
      this.prefetchedBatches++;
      this.rng.setState(p.rngAfter);
    } else {
      plan = this.plan(epoch, index);
      rendered = renderBatch(this.data.images, this.data.labels, this.spec, plan, ...this.rows(plan));
    }
    if (++this.batch === this.numBatches) {
      this.batch = 0;
      this.epochNo++;
    }
    if (this.prefetch) this.startPrefetch();
    const [lo, hi] = this.rows(plan), s = this.spec;
    return {
      x: rendered.x, shape: [hi - lo, s.c, s.outH, s.outW], labels: rendered.labels, targets: rendered.targets,
      numClasses: s.numClasses, epoch, index, indices: plan.indices.slice(lo, hi), globalSize: plan.indices.length,
    };
  }

  // This rank's rows [lo, hi) of a planned global batch (all of them in a world of one).
  private rows(plan: BatchPlan): [number, number] {
    return this.sampler.share(plan.indices.length);
  }

  /** The remaining batches of the current epoch. */
  async *batches(): AsyncGenerator<Batch> {
    const e = this.epochNo;
    while (this.epochNo === e) yield await this.next();
  }

  /** Stops the worker thread (a later next() starts a new one). */
  async close(): Promise<void> {
    this.pending = null;
    const w = this.worker;
    this.worker = null;
    for (const { reject } of this.waiting.values()) reject(new RepmlpError(`${OP}: closed`));
    this.waiting.clear();
    if (w) await terminateWorker(w);
  }

  // Plans (global) batch `index` of `epoch`, advancing the augmentation Rng.
  private plan(epoch: number, index: number): BatchPlan {
    return planBatch(this.rng, this.sampler.globalBatch(epoch, index), this.spec);
  }

  private startPrefetch(): void {
    const rngBefore = this.rng.getState();
    const epoch = this.epochNo, batch = this.batch;
    const plan = this.plan(epoch, batch);
    const rngAfter = this.rng.getState();
    this.rng.setState(rngBefore);
    const result = this.render(plan);
    result.catch(() => undefined); // a discarded prefetch must not be an unhandled rejection
    this.pending = { epoch, batch, rngBefore, rngAfter, plan, result };
  }

  private render(plan: BatchPlan): Promise<Rendered> {
    const w = this.ensureWorker();
    const id = this.nextId++;
    w.ref();
    return new Promise<Rendered>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const [lo, hi] = this.rows(plan);
      w.postMessage({ type: 'render', id, plan, lo, hi });
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = spawnWorker(__dirname, 'loader-worker', path.extname(__filename));
    w.postMessage({ type: 'init', images: this.data.images, labels: this.data.labels, spec: this.spec });
    w.on('message', (m: { id: number; result?: Rendered; error?: string }) => {
      const waiter = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) w.unref();
      if (!waiter) return;
      if (m.error !== undefined) waiter.reject(new RepmlpError(`${OP}: worker failed: ${m.error}`));
      else waiter.resolve(m.result!);
    });
    w.on('error', (e) => {
      for (const { reject } of this.waiting.values()) reject(new RepmlpError(`${OP}: worker failed: ${e.message}`));
      this.waiting.clear();
      if (this.worker === w) this.worker = null;
    });
    w.unref();
    this.worker = w;
    return w;
  }
}

/** A batch as tensors on `device`: x (B, C, H, W) float32 and y, (B) int64 labels or (B, K) soft targets. */
export function batchToTensors(batch: Batch, device: Device = 'cpu'): { x: Tensor; y: Tensor } {
  const x = tensor(batch.x, batch.shape, { device });
  const y = batch.targets
    ? tensor(batch.targets, [batch.labels.length, batch.numClasses], { device })
    : tensor(batch.labels, [batch.labels.length], { device, dtype: 'int64' });
  return { x, y };
}

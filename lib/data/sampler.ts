// Which images an epoch visits, in which order, and which of them each rank of a
// distributed world trains on. The order of epoch e is a permutation that depends on (seed,
// e) only, so every rank computes the same one without talking to the others. It is cut
// into global batches of batchSize images, as one process would cut it; rank r takes a
// contiguous share of each global batch (sizes differing by one at most when the batch does
// not divide evenly), so the world's step k sees exactly the images of one process's step k.
import { describe, fail } from '../errors';
import { Rng } from '../rng';

const OP = 'DistributedSampler';

/** The permutation of 0..n-1 used in `epoch` (identity without shuffling). */
export function epochOrder(n: number, seed: number, epoch: number, shuffle = true): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (!shuffle) return order;
  const rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x7feb352d)) >>> 0);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Rank `rank`'s share [lo, hi) of a global batch of `size` images over `worldSize` ranks. */
export function shardRange(size: number, rank: number, worldSize: number): [number, number] {
  return [Math.floor((rank * size) / worldSize), Math.floor(((rank + 1) * size) / worldSize)];
}

export interface DistributedSamplerOptions {
  /** the ranks of the world and this one (default a world of one: every image is this rank's) */
  worldSize?: number;
  rank?: number;
  /** images per global batch: over every rank together */
  batchSize: number;
  /** a new permutation every epoch (default true) */
  shuffle?: boolean;
  seed?: number;
  /** drop the last global batch when it is incomplete (default false) */
  dropLast?: boolean;
  /**
   * the fewest images each rank must get from a global batch (default 1): a last global
   * batch too small for that is dropped (training needs images on every rank; evaluation
   * can take 0, where a rank then has nothing in the last batch)
   */
  minPerRank?: number;
}

/** A loader's share of a distributed world (DataLoader's and FolderLoader's shard option). */
export type ShardOptions = Required<Pick<DistributedSamplerOptions, 'rank' | 'worldSize'>> & Pick<DistributedSamplerOptions, 'minPerRank'>;

/** One rank's part of global batch `index`: its dataset rows and where they sit in the batch. */
export interface Shard {
  /** this rank's dataset rows, in batch order */
  indices: Int32Array;
  /** their positions [lo, hi) in the global batch */
  lo: number;
  hi: number;
  /** the images of the global batch, over every rank */
  globalSize: number;
}

function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(OP, name, `an integer >= ${min}`, describe(v));
  return v;
}

export class DistributedSampler {
  readonly n: number;
  readonly worldSize: number;
  readonly rank: number;
  readonly batchSize: number;
  /** the fewest images of a global batch each rank gets (minPerRank) */
  readonly minPerRank: number;
  /** global batches per epoch */
  readonly numBatches: number;
  readonly shuffle: boolean;
  readonly seed: number;
  private cached: { epoch: number; order: Int32Array } | null = null;

  constructor(n: number, opts: DistributedSamplerOptions) {
    this.n = checkInt('n', n, 1);
    if (typeof opts !== 'object' || opts === null) fail(OP, 'options', 'an object', describe(opts));
    this.worldSize = checkInt('worldSize', opts.worldSize ?? 1, 1);
    this.rank = checkInt('rank', opts.rank ?? 0, 0);
    if (this.rank >= this.worldSize) fail(OP, 'rank', `a rank below worldSize ${this.worldSize}`, String(this.rank));
    this.batchSize = checkInt('batchSize', opts.batchSize, 1);
    this.minPerRank = checkInt('minPerRank', opts.minPerRank ?? 1, 0);
    this.shuffle = opts.shuffle ?? true;
    this.seed = (opts.seed ?? 0) >>> 0;
    const full = Math.floor(n / this.batchSize), tail = n - full * this.batchSize;
    const keepTail = tail > 0 && !opts.dropLast && tail >= this.minPerRank * this.worldSize;
    this.numBatches = full + (keepTail ? 1 : 0);
    if (this.numBatches === 0)
      fail(OP, 'batchSize', `a global batch that gives each of ${this.worldSize} ranks at least ${this.minPerRank} of the ${n} images`, String(this.batchSize));
  }

  /** The permutation of epoch `epoch` (the same on every rank). */
  order(epoch: number): Int32Array {
    if (!this.cached || this.cached.epoch !== epoch) this.cached = { epoch, order: epochOrder(this.n, this.seed, epoch, this.shuffle) };
    return this.cached.order;
  }

  /** The dataset rows of global batch `index` of `epoch`, every rank's. */
  globalBatch(epoch: number, index: number): Int32Array {
    checkInt('index', index, 0);
    if (index >= this.numBatches) fail(OP, 'index', `a batch index below ${this.numBatches}`, String(index));
    const start = index * this.batchSize;
    return this.order(epoch).slice(start, Math.min(start + this.batchSize, this.n));
  }

  /** This rank's positions [lo, hi) in a global batch of `size` images. */
  share(size: number): [number, number] {
    return shardRange(size, this.rank, this.worldSize);
  }

  /** This rank's part of global batch `index` of `epoch`. */
  shard(epoch: number, index: number): Shard {
    const all = this.globalBatch(epoch, index);
    const [lo, hi] = this.share(all.length);
    return { indices: all.slice(lo, hi), lo, hi, globalSize: all.length };
  }

  /** This rank's dataset rows of every batch of `epoch`, batch after batch (for a loop of one's own). */
  *batches(epoch: number): Generator<Shard> {
    for (let i = 0; i < this.numBatches; i++) yield this.shard(epoch, i);
  }
}

// How the trainer runs on the ranks of a distributed world (one process is a world of one,
// where every step below is what it was before): each rank trains on its share of every
// global batch (the loaders' shard), its loss weighed by its share, the gradients averaged
// over the ranks after each optimizer step's last micro-batch (DataParallel, which also
// starts every rank from rank 0's weights and, without syncBatchNorm, copies rank 0's
// BatchNorm statistics after each step), the sums it logs and saves taken over every rank,
// and the files written by rank 0 while the others wait at a barrier.
import { noGrad } from '../autograd';
import { allReduce, barrier, broadcastObject, sumCounts } from '../dist/collectives';
import { DataParallel } from '../dist/data-parallel';
import { initDistributed, world, type World } from '../dist/world';
import type { Batch } from '../data/loader';
import { fail } from '../errors';
import { setNumThreads } from '../info';
import type { Module } from '../nn/module';
import { mulScalar } from '../ops/scalar';
import { scope } from '../scope';
import type { Tensor } from '../tensor';
import type { LoaderShards } from './data';
import type { DistSettings } from './dist-options';
import { OP } from './option-checks';

export class TrainParallel {
  readonly world: World;
  private ddp: DataParallel | null = null;

  /** Joins the world (when distributed) and sets each rank's threads; checks the batch divides over the ranks. */
  constructor(private readonly s: DistSettings & { batchSize: number }) {
    this.world = s.distributed ? initDistributed() : world();
    if (this.size === 1) return;
    if (s.batchSize % this.size !== 0)
      fail(OP, 'batchSize', `a global batch divisible by the ${this.size} ranks`, String(s.batchSize));
    const threads = s.threadsPerRank ?? (process.env.REPMLP_NUM_THREADS ? undefined : 1);
    if (threads !== undefined) setNumThreads(threads);
  }

  get size(): number {
    return this.world.size;
  }

  /** Rank 0 logs and writes the run's files. */
  get isRank0(): boolean {
    return this.world.rank === 0;
  }

  /**
   * The loaders' shares of each global batch (undefined in a world of one): every rank needs
   * images to train on; a rank may have none in the test set's last batch.
   */
  loaderShards(): LoaderShards {
    const share = (minPerRank: number) => (this.size > 1 ? { rank: this.world.rank, worldSize: this.size, minPerRank } : undefined);
    return { train: share(1), test: share(0), localRanks: this.world.localSize };
  }

  /** Trains `model` on every rank as one: rank 0's weights everywhere, BatchNorm over the ranks with syncBatchNorm. */
  attach(model: Module): void {
    if (this.size > 1) this.ddp = new DataParallel(model, { syncBatchNorm: this.s.syncBatchNorm });
  }

  /** The backward of a micro-batch's loss; after the step's last one the gradients are averaged over the ranks. */
  backward(loss: Tensor, last: boolean): void {
    if (this.ddp && last) this.ddp.backward(loss);
    else loss.backward();
  }

  /** After each optimizer step: rank 0's BatchNorm statistics on every rank (unless syncBatchNorm keeps them equal). */
  afterStep(): void {
    this.ddp?.syncBuffers();
  }

  /**
   * The images of the global batch `batch` is this rank's share of: as the loader knows it,
   * else (images left out of the shares) summed over the ranks, which all ask for the same batches.
   */
  globalSize(batch: Batch): number {
    const n = batch.labels.length;
    return batch.globalSize ?? (this.size > 1 ? sumCounts([n])[0] : n);
  }

  /** Counts summed over the ranks. */
  sumCounts(counts: number[]): number[] {
    return sumCounts(counts);
  }

  /** Every rank's value, in rank order (of this process alone in a world of one). */
  gather<T>(value: T): T[] {
    return this.size > 1 ? Array.from({ length: this.size }, (_, root) => broadcastObject(value, root)) : [value];
  }

  /** A device scalar summed over the ranks, read back. */
  readSum(t: Tensor): number {
    if (this.size === 1) return t.item();
    return noGrad(() => scope(() => allReduce(mulScalar(t, 1)).item()));
  }

  /** A running sum's share of this rank when a sum over the ranks is restored: all of it on rank 0. */
  startOf(total: number): number {
    return this.isRank0 ? total : 0;
  }

  /** Rank 0's value on every rank (a decision all must take alike). */
  agree<T>(value: T): T {
    return this.size > 1 ? broadcastObject(value) : value;
  }

  /** Every rank waits here (after rank 0 wrote a file). */
  barrier(): void {
    if (this.size > 1) barrier();
  }
}

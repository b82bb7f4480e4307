// DataParallel: a module trained on every rank of the world as one model, with PyTorch's
// DistributedDataParallel semantics. At construction every rank takes rank 0's parameters
// and buffers. Each rank runs the forward and backward of its own share of the batch;
// backward() averages the gradients over the ranks in buckets, each started while backward
// goes on (gradients.ts), so the optimizer steps of all ranks see the same gradients and
// keep the same weights. BatchNorm normalises each rank's share by its own statistics, and
// syncBuffers() copies rank 0's running statistics to every rank (as DDP's
// broadcast_buffers), unless syncBatchNorm pools the statistics over the ranks (forward and
// backward), which makes N ranks at global batch B compute what one process computes at B.
import { checkInt } from '../check';
import { describe, fail } from '../errors';
import { native } from '../native';
import { BatchNorm2d } from '../nn/layers';
import type { Module } from '../nn/module';
import type { Tensor } from '../tensor';
import { GradientReducer, planBuckets } from './gradients';
import { world } from './world';

const OP = 'DataParallel';

export interface DataParallelOptions {
  /** BatchNorm statistics over every rank, forward and backward (SyncBatchNorm; default false) */
  syncBatchNorm?: boolean;
  /** the most gradient bytes in one allreduce (default 1 MiB, as DDP's first bucket) */
  bucketBytes?: number;
  /** start each bucket's allreduce while backward goes on (default true); false: all after it */
  overlap?: boolean;
}

/** Copies rank root's tensors to every rank: one broadcast per dtype over their elements packed together. */
export function broadcastCoalesced(tensors: readonly Tensor[], root = 0): void {
  if (native.distWorld().size === 1) return;
  for (const dtype of ['float32', 'int64'] as const) {
    const ts = tensors.filter((t) => t.dtype === dtype);
    const total = ts.reduce((n, t) => n + t.numel, 0);
    if (total === 0) continue;
    const device = ts[0].device;
    const flat = new native.Storage(device, dtype, total);
    try {
      let at = 0;
      for (const t of ts) native.copy_storage(flat, (at += t.numel) - t.numel, t.storage, t.offset, t.numel);
      native.distBroadcast({ buf: flat, offset: 0, count: total, root });
      at = 0;
      for (const t of ts) native.copy_storage(t.storage, t.offset, flat, (at += t.numel) - t.numel, t.numel);
    } finally {
      flat.dispose();
    }
  }
}

export class DataParallel {
  readonly syncBatchNorm: boolean;
  readonly overlap: boolean;
  private readonly buckets: Tensor[][];

  constructor(readonly module: Module, opts: DataParallelOptions = {}) {
    if (typeof opts !== 'object' || opts === null) fail(OP, 'options', 'an object', describe(opts));
    this.syncBatchNorm = opts.syncBatchNorm ?? false;
    if (typeof this.syncBatchNorm !== 'boolean') fail(OP, 'syncBatchNorm', 'a boolean', describe(this.syncBatchNorm));
    this.overlap = opts.overlap ?? true;
    if (typeof this.overlap !== 'boolean') fail(OP, 'overlap', 'a boolean', describe(this.overlap));
    const bucketBytes = checkInt(OP, 'bucketBytes', opts.bucketBytes ?? 2 ** 20);
    for (const [, m] of module.namedModules()) if (m instanceof BatchNorm2d) m.sync = this.syncBatchNorm;
    const params = module.parameters();
    const devices = new Set(params.map((p) => p.device));
    if (devices.size > 1) fail(OP, 'module', 'parameters on one device', `parameters on ${[...devices].join(' and ')}`);
    broadcastCoalesced([...params, ...module.namedBuffers().map(([, b]) => b)]);
    this.buckets = planBuckets(params, bucketBytes);
  }

  /** The ranks of the world. */
  get worldSize(): number {
    return world().size;
  }

  /**
   * The backward of this rank's loss, then the gradients averaged over the ranks (into
   * .grad, as loss.backward() leaves them). With the default loss (the mean over this rank's
   * share) and shares of equal size, that is the gradient of the mean loss over the global
   * batch; lossScale(local, global) weighs unequal shares.
   */
  backward(loss: Tensor): void {
    if (this.worldSize === 1) return loss.backward();
    const r = new GradientReducer(this.buckets, this.worldSize);
    loss.backward(undefined, this.overlap ? { onLeafReady: (leaf) => r.ready(leaf) } : {});
    r.finish();
  }

  /** Averages the .grad of every parameter over the ranks (after backward passes of one's own, or accumulated ones). */
  averageGradients(): void {
    if (this.worldSize > 1) new GradientReducer(this.buckets, this.worldSize).finish();
  }

  /**
   * Copies rank 0's buffers (BatchNorm running statistics) to every rank, as DDP does before
   * each forward; with syncBatchNorm they are equal already and nothing is sent.
   */
  syncBuffers(): void {
    if (this.syncBatchNorm || this.worldSize === 1) return;
    broadcastCoalesced(this.module.namedBuffers().map(([, b]) => b).filter((b) => b.dtype === 'float32'));
  }
}

/**
 * The factor on this rank's mean loss over `local` images that makes the average over the
 * ranks the mean over the `global` images of the batch: worldSize * local / global (1 when
 * the shares are equal).
 */
export function lossScale(local: number, global: number): number {
  checkInt('lossScale', 'global', global);
  checkInt('lossScale', 'local', local, 0);
  return (world().size * local) / global;
}

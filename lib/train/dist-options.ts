// The trainer's options for data-parallel training over the ranks of a distributed world
// (lib/dist): joining it, BatchNorm over the ranks, threads per rank; checked, with their
// defaults, and what a resumed run must agree on.
import { launcherVariable } from '../dist/world';
import { bool, optionalPosInt } from './option-checks';

export interface DistTrainOptions {
  /**
   * Train on every rank of the world an MPI launcher started (`mpirun -np N repmlp train`):
   * batchSize is then the global batch (divisible by the ranks), rank 0 logs and writes the
   * files. Default: true when an MPI launcher started this process.
   */
  distributed?: boolean;
  /** BatchNorm statistics over every rank, forward and backward (SyncBatchNorm; default false) */
  syncBatchNorm?: boolean;
  /** CPU threads of each rank in a world of more than one (default REPMLP_NUM_THREADS, else 1) */
  threadsPerRank?: number;
}

export interface DistSettings {
  distributed: boolean;
  syncBatchNorm: boolean;
  threadsPerRank: number | undefined;
}

export function distSettings(o: DistTrainOptions): DistSettings {
  return {
    distributed: bool('distributed', o.distributed, launcherVariable() !== null),
    syncBatchNorm: bool('syncBatchNorm', o.syncBatchNorm, false),
    threadsPerRank: optionalPosInt('threadsPerRank', o.threadsPerRank),
  };
}

/** What a resumed run must agree on: the ranks (each one's batches depend on them) and the BatchNorm. */
export function recordedDist(s: DistSettings, worldSize: number): Record<string, unknown> {
  return { worldSize, syncBatchNorm: s.syncBatchNorm };
}

/** The same, for checkpoints of runs from before the options existed (one process). */
export const RECORDED_DIST_DEFAULTS: Readonly<Record<string, unknown>> = { worldSize: 1, syncBatchNorm: false };

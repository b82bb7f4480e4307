// What the trainer needs from a loader: the in-memory DataLoader (loader.ts) and the image
// folder loader (images/folder-loader.ts) both provide it, with the same Batch and state.
import type { Batch, LoaderState } from './loader';

export interface BatchSource {
  readonly batchSize: number;
  /** batches per epoch */
  readonly numBatches: number;
  /** the epoch of the next batch */
  readonly epoch: number;
  /** The next batch; after the last batch of an epoch the next epoch starts. */
  next(): Promise<Batch>;
  /** The remaining batches of the current epoch. */
  batches(): AsyncGenerator<Batch>;
  /** Position (and Rng state) of the next batch, for resuming. */
  state(): LoaderState;
  /** Restores a state() of a loader built with the same data and options. */
  setState(s: LoaderState): void;
  /** Stops the worker threads (a later next() starts them again). */
  close(): Promise<void>;
}

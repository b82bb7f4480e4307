// Per-sample and per-batch random streams. A sample's augmentation depends on (seed, epoch,
// dataset index) only, and a batch's mixup / CutMix on (seed, epoch, batch index) only, so the
// batches do not depend on the number of workers, on which worker renders what, or on where a
// run was resumed. Each stream is an Rng whose four state words hash those numbers.
import { Rng } from '../../rng';

function mix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function streamRng(tag: number, seed: number, epoch: number, index: number): Rng {
  const s: number[] = [0, 1, 2, 3].map((lane) => mix32((mix32((mix32((seed ^ tag ^ Math.imul(lane + 1, 0x9e3779b9)) >>> 0) + epoch) >>> 0) + index) >>> 0));
  if (!s.some((w) => w !== 0)) s[0] = 1; // xoshiro's one forbidden state
  const rng = new Rng(0);
  rng.setState(s);
  return rng;
}

/** The Rng of dataset row `index` in `epoch`. */
export const sampleRng = (seed: number, epoch: number, index: number): Rng => streamRng(0x51a3c0de, seed, epoch, index);

/** The Rng of batch `batch` of `epoch` (mixup / CutMix). */
export const batchRng = (seed: number, epoch: number, batch: number): Rng => streamRng(0x2b47e91f, seed, epoch, batch);

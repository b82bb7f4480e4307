// One sample of a folder data set, rendered where it is asked for (a worker thread, or the
// main thread when the loader has no workers): read, decode, transform, with the sample's Rng.
import { readImageFile } from './decode';
import { sampleRng } from './seeds';
import { transformImage, type TransformSpec } from './transform';

/** What a worker is started with. */
export interface WorkerInit {
  spec: TransformSpec;
  seed: number;
}

/** Dataset row `index` of `epoch`, stored in `file`. */
export interface SampleTask {
  file: string;
  index: number;
  epoch: number;
}

/** (channels, size, size) float32, or the error message (which names the file). */
export type SampleResult = { x: Float32Array; error?: undefined } | { x?: undefined; error: string };

export async function renderSampleTask(t: SampleTask, init: WorkerInit): Promise<SampleResult> {
  try {
    const buf = readImageFile(t.file);
    return { x: await transformImage(buf, t.file, init.spec, sampleRng(init.seed, t.epoch, t.index)) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

// The inputs of a prediction rendered as the model's input: files read, decoded and
// transformed on worker threads (the FolderLoader's SamplePool) or on the calling thread,
// encoded images in memory (Buffers) on the calling thread; each result is the
// (channels, size, size) float32 or the error that names the input.
import { SamplePool } from '../data/images/sample-pool';
import { renderSampleTask, type SampleResult } from '../data/images/sample-task';
import { transformImage, type TransformSpec } from '../data/images/transform';
import { describe, fail } from '../errors';
import { Rng } from '../rng';

/** An image file's path, or an encoded image in memory. */
export type PredictInput = string | Uint8Array;

/** How an input is named in results and errors: its path, or `buffer <i>`. */
export const inputName = (input: PredictInput, i: number): string => (typeof input === 'string' ? input : `buffer ${i}`);

export class InputRenderer {
  private readonly pool: SamplePool | null;
  private readonly init: { spec: TransformSpec; seed: number };

  /** `workers` threads decode the files (0: the calling thread); buffers are always decoded here. */
  constructor(private readonly inputs: readonly PredictInput[], spec: TransformSpec, workers: number) {
    inputs.forEach((x, i) => {
      if (typeof x !== 'string' && !(x instanceof Uint8Array)) fail('predict', `inputs[${i}]`, 'a file path or a Buffer (Uint8Array) of an encoded image', describe(x));
    });
    this.init = { spec, seed: 0 };
    this.pool = workers > 0 && inputs.some((x) => typeof x === 'string') ? new SamplePool(workers, 2, this.init) : null;
  }

  /** Input i as the model's input, or the error naming it. */
  render(i: number): Promise<SampleResult> {
    const x = this.inputs[i];
    if (typeof x === 'string') {
      const task = { file: x, index: i, epoch: 0 };
      return this.pool ? this.pool.run(task) : renderSampleTask(task, this.init);
    }
    const buf = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    return transformImage(buf, inputName(x, i), this.init.spec, new Rng(0)).then((out) => ({ x: out }), (e: Error) => ({ error: e.message }));
  }

  /** Stops the worker threads. */
  close(): Promise<void> {
    return this.pool ? this.pool.close() : Promise.resolve();
  }
}

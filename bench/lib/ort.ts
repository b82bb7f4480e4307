// onnxruntime-node as a benchmark peer of the deploy form: a session on the project's own ONNX
// export (lib/onnx), on the CPU with the benchmark's thread count (intraOpNumThreads; one
// inter-op thread, sequential execution), default graph optimizations. onnxruntime-node is a
// devDependency: where it cannot load, the peer reports why instead.
import { measureAsync, type Timing, type TimingOptions } from './stats';

export interface OrtPeer {
  /** onnxruntime-node's version */
  version: string;
  /** deploy-form inference of a random batch of `dims` (N, C, H, W) */
  time(dims: number[], timing: TimingOptions): Promise<Timing>;
  release(): Promise<void>;
}

export type OrtResult = { ok: true; peer: OrtPeer } | { ok: false; error: string };

/** A session on `onnx` (exportOnnx's bytes of the model). */
export async function ortPeer(onnx: Uint8Array, threads: number): Promise<OrtResult> {
  let ort: typeof import('onnxruntime-node');
  try {
    ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  } catch (e) {
    return { ok: false, error: `onnxruntime-node could not load: ${(e as Error).message.split('\n')[0]}` };
  }
  const session = await ort.InferenceSession.create(onnx, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
  });
  const version = (require('onnxruntime-node/package.json') as { version: string }).version;
  return {
    ok: true,
    peer: {
      version,
      time: (dims, timing) => {
        const n = dims.reduce((a, b) => a * b, 1);
        const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
        const feeds = { input: new ort.Tensor('float32', data, dims) };
        return measureAsync(async () => void (await session.run(feeds)), timing);
      },
      release: () => session.release(),
    },
  };
}

// What the ONNX tests share: random BN statistics (so that folding and BatchNormalization
// nodes matter), onnxruntime-node (CPU) as the third-party runtime, and the comparison with
// repmlp's own eval-mode forward.
import * as ort from 'onnxruntime-node';
import { randn, scope, type RepMLPNet, type Rng } from '../../lib/index';
import { diff } from '../helpers';

/** Ops of the default ONNX domain the exporter may use. */
export const STANDARD_OPS = new Set([
  'Conv', 'BatchNormalization', 'Relu', 'Sigmoid', 'Erf', 'Div', 'Add', 'Mul', 'Reshape', 'Transpose',
  'MatMul', 'Gemm', 'GlobalAveragePool', 'Flatten',
]);

/** BN running statistics and affine parameters away from the identity (var in [0.5, 2)). */
export function randomizeBns(model: RepMLPNet, rng: Rng): void {
  const sd = model.stateDict();
  for (const [k, v] of sd) {
    if (v.dtype !== 'float32' || !/(bn|prebn1|prebn2|head_norm)\.(weight|bias|running_mean|running_var)$/.test(k)) continue;
    const d = v.data as Float32Array;
    for (let i = 0; i < d.length; i++)
      d[i] = k.endsWith('running_var') ? 0.5 + 1.5 * rng.uniform() : k.endsWith('weight') ? 0.5 + rng.uniform() : 0.3 * rng.normal();
  }
  model.loadStateDict(sd);
}

/** The logits onnxruntime gives for x (N, C, H, W) in row-major order. */
export async function ortLogits(session: ort.InferenceSession, x: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const out = await session.run({ input: new ort.Tensor('float32', x, dims) });
  return { data: out.logits.data as Float32Array, dims: out.logits.dims };
}

export function openSession(model: Uint8Array | string): Promise<ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model) : ort.InferenceSession.create(model);
}

/**
 * The worst relative difference (max |ort - repmlp| / max |repmlp|) over random batches of
 * each size, run through one session (the batch dimension is symbolic).
 */
export async function compareWithOrt(
  session: ort.InferenceSession, model: RepMLPNet, input: [number, number, number], batches: number[], rng: Rng,
): Promise<number> {
  let worst = 0;
  for (const N of batches) {
    const dims = [N, ...input];
    const x = randn(dims, rng);
    const host = x.toFloat32Array();
    const expected = scope(() => model.forward(x).toFloat32Array());
    x.dispose();
    const got = await ortLogits(session, host, dims);
    if (got.dims.join() !== [N, model.config.numClasses].join()) throw new Error(`onnxruntime gave logits of dims [${got.dims}] for batch ${N}`);
    worst = Math.max(worst, diff(got.data, expected).rel);
  }
  return worst;
}

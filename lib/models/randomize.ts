// Batch-norm statistics and affine parameters away from the identity, for the checks that
// a fusion is exact (Locality Injection, the ONNX export): a freshly built model's BNs are
// the identity in eval mode, which a fusion that drops or misplaces them would still pass.
import type { Module } from '../nn/module';
import type { Rng } from '../rng';

/** The BN tensors of RepMLPNet's modules (bn, fc3_bn, prebn1, prebn2, head_norm) a fusion folds. */
const BN_TENSOR = /(bn|prebn1|prebn2|head_norm)\.(weight|bias|running_mean|running_var)$/;

/**
 * Sets, in place and in state-dict order, every BN's running_var to [0.5, 2), its weight to
 * [0.5, 1.5), and its bias and running_mean to N(0, spread^2).
 */
export function randomizeBatchNorms(model: Module, rng: Rng, spread = 0.2): void {
  const sd = model.stateDict();
  for (const [k, v] of sd) {
    if (v.dtype !== 'float32' || !BN_TENSOR.test(k)) continue;
    const d = v.data as Float32Array;
    for (let i = 0; i < d.length; i++)
      d[i] = k.endsWith('running_var') ? 0.5 + 1.5 * rng.uniform() : k.endsWith('weight') ? 0.5 + rng.uniform() : spread * rng.normal();
  }
  model.loadStateDict(sd);
}

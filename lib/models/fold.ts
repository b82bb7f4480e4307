// Host-side folding of eval-mode BatchNorms (in float64, each result rounded to float32 once)
// for the exporters of the deploy form: the ONNX graph (lib/onnx) and the compiled inference
// plan (lib/infer). And the deploy form itself: the model, or a converted copy.
import type { BatchNorm2d, Conv2d } from '../nn/layers';
import type { Tensor } from '../tensor';
import { buildModel, type FamilyModel } from './families';

/** A BatchNorm in eval mode as a per-channel affine: bn(x) = scale * x + shift. */
export interface Affine {
  scale: Float64Array;
  shift: Float64Array;
}

function host(t: Tensor): Float32Array {
  return t.toFloat32Array();
}

/** scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale. */
export function bnAffine(bn: BatchNorm2d): Affine {
  const gamma = host(bn.weight), beta = host(bn.bias), mean = host(bn.runningMean), variance = host(bn.runningVar);
  const scale = new Float64Array(gamma.length), shift = new Float64Array(gamma.length);
  for (let c = 0; c < gamma.length; c++) {
    scale[c] = gamma[c] / Math.sqrt(variance[c] + bn.eps);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  return { scale, shift };
}

/** A conv (no bias) followed by a BN, folded: each output channel's weights times its scale, bias = shift. */
export function foldConvBn(conv: Conv2d, bn: BatchNorm2d): { weight: Float32Array; bias: Float32Array } {
  const w = host(conv.weight);
  const { scale, shift } = bnAffine(bn);
  const O = scale.length, per = w.length / O;
  const weight = new Float32Array(w.length);
  for (let o = 0; o < O; o++) for (let j = o * per; j < (o + 1) * per; j++) weight[j] = w[j] * scale[o];
  return { weight, bias: Float32Array.from(shift) };
}

/** Runs fn on the deploy form: the model itself, or a converted copy (disposed afterwards); the model is left as it is. */
export function withDeployForm<M extends FamilyModel, T>(model: M, fn: (m: M) => T): T {
  if (model.deploy) return fn(model);
  const copy = buildModel({ ...model.config, deploy: false }, { device: model.parameters()[0]?.device, uninitialized: true }) as M;
  try {
    copy.loadStateDict(model.stateDict());
    copy.localityInjection();
    return fn(copy);
  } finally {
    copy.dispose();
  }
}

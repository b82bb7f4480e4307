// The structural re-parameterization steps that Locality Injection is made of (Ding et al.,
// RepMLP 2021, Appendix A-C; RepMLPNet 2022): a BN folded into the layer before it, a k x k
// kernel zero-padded to K x K, conv-BN branches merged into one kernel, a (grouped) conv kernel
// turned into the FC matrix it applies to an h x w partition by convolving an identity, and a
// vector repeated element by element. Each step runs the project's own kernels on the tensors'
// device and records no autograd node when called under noGrad (the models call them under
// noGrad in a scope); every result is a new tensor the caller owns.
import { tensor, zeros } from '../creation';
import { fail } from '../errors';
import { add } from '../ops/arithmetic';
import { batchNorm2d } from '../ops/batchnorm';
import { conv2d } from '../ops/conv2d';
import { expand } from '../ops/expand';
import { contiguous, permute, reshape } from '../ops/views';
import type { Tensor } from '../tensor';
import type { BatchNorm2d } from './layers';

/** A layer's weight and bias with what followed it folded in. */
export interface Fused {
  weight: Tensor;
  bias: Tensor;
}

function free(...ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

/**
 * bn folded into a weight whose leading dimension is C * rows (C = the BN's channels), with
 * batchNorm2d's own eval kernel: the weight viewed as (1, C, rows * rest, 1) normalised with
 * mean 0 and beta 0 is weight * gamma / sigma; zeros normalised with the real statistics give
 * the bias beta - mu * gamma / sigma (C), repeated `rows` times per channel.
 */
export function fuseBn(weight: Tensor, bn: BatchNorm2d, rows = 1): Fused {
  const C = bn.weight.shape[0];
  const device = weight.device;
  const zero = zeros([C], { device });
  const wv = reshape(weight, [1, C, weight.numel / C, 1]);
  const wn = batchNorm2d(wv, bn.weight, zero, zero, bn.runningVar, null, { training: false, eps: bn.eps });
  const w = reshape(wn, [...weight.shape]);
  const z = zeros([1, C, rows, 1], { device });
  const bz = batchNorm2d(z, bn.weight, bn.bias, bn.runningMean, bn.runningVar, null, { training: false, eps: bn.eps });
  const b = reshape(bz, [C * rows]);
  free(zero, wv, wn, z, bz);
  return { weight: w, bias: b };
}

/** The BN as a per-channel affine map y = x * scale + shift: scale gamma / sigma, shift beta - mu * gamma / sigma, both (C). */
export function bnAffine(bn: BatchNorm2d): { scale: Tensor; shift: Tensor } {
  const C = bn.weight.shape[0];
  const one = tensor(new Float32Array(C).fill(1), [C], { device: bn.weight.device });
  const f = fuseBn(one, bn);
  one.dispose();
  return { scale: f.weight, shift: f.bias };
}

/**
 * A kernel (O, Cg, k, k) zero-padded to (O, Cg, K, K), K - k even: a convolution of the
 * kernels, as O * Cg one-channel images, with a 1 x 1 kernel of value 1 and padding (K - k) / 2
 * (exact). A new tensor also when k = K.
 */
export function padKernel(kernel: Tensor, K: number): Tensor {
  const [O, Cg, k] = kernel.shape;
  const images = reshape(kernel, [O * Cg, 1, k, k]);
  const one = tensor([1], [1, 1, 1, 1], { device: kernel.device });
  const padded = conv2d(images, one, null, { padding: (K - k) >> 1 });
  const out = reshape(padded, [O, Cg, K, K]);
  free(images, one, padded);
  return out;
}

/**
 * Fused branches (kernels (O, Cg, k_i, k_i) with odd k_i, biases (O)) summed into one, the
 * kernels zero-padded to the largest k. Consumes the branches (their tensors are disposed).
 */
export function sumBranches(branches: readonly Fused[]): Fused {
  if (branches.length === 0) fail('sumBranches', 'branches', 'at least one branch', 'none');
  const K = Math.max(...branches.map((b) => b.weight.shape[2]));
  let sum: Fused | null = null;
  for (const b of branches) {
    const padded = padKernel(b.weight, K);
    b.weight.dispose();
    if (sum === null) {
      sum = { weight: padded, bias: b.bias };
      continue;
    }
    const next: Fused = { weight: add(sum.weight, padded), bias: add(sum.bias, b.bias) };
    free(sum.weight, padded, sum.bias, b.bias);
    sum = next;
  }
  return sum!;
}

/**
 * The FC matrix (O*h*w, C*h*w/groups) that a kernel (O, C/groups, K, K), applied with padding
 * K // 2 and `groups` groups, is on a (C, h, w) partition: the grouped 1x1 conv weight
 * (as fc3's, rows o*hw + p, columns c*hw + q within the group). Computed by convolving the
 * identity I (C*hw/groups, C, h, w), row i holding a 1 at position i of every group's
 * channels: row i of the result, (O, h, w), is column i of the matrix.
 */
export function convToFc(kernel: Tensor, C: number, groups: number, h: number, w: number): Tensor {
  const [O, , K] = kernel.shape;
  const hw = h * w, cols = (C * hw) / groups;
  const eyeHost = new Float32Array(cols * C * hw);
  for (let i = 0; i < cols; i++) for (let g = 0; g < groups; g++) eyeHost[i * C * hw + g * cols + i] = 1;
  const eye = tensor(eyeHost, [cols, C, h, w], { device: kernel.device });
  const conv = conv2d(eye, kernel, null, { padding: K >> 1, groups }); // (cols, O, h, w)
  const flat = reshape(conv, [cols, O * hw]);
  const tr = permute(flat, [1, 0]);
  const fc = contiguous(tr); // (O*hw, cols)
  free(eye, conv, flat, tr);
  return fc;
}

/** v (n) with each element repeated `times` times in place (torch.repeat_interleave): (n * times). */
export function repeatEach(v: Tensor, times: number): Tensor {
  const n = v.shape[0];
  const col = reshape(v, [n, 1]);
  const wide = expand(col, [n, times]);
  const dense = contiguous(wide);
  const out = reshape(dense, [n * times]);
  free(col, wide, dense);
  return out;
}

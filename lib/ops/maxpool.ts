// Max pooling, as PyTorch's F.max_pool2d(x, kernel, stride, padding) on NCHW tensors
// (dilation 1, floor mode, padding at most half the window and counting as -infinity). The
// forward keeps, for backward only, the index of each window's maximum (int64, as PyTorch's
// return_indices; the first maximum in row-major order, a NaN winning); backward gathers the
// output gradient into those positions (native/ops/maxpool.cc).
import { isGradEnabled, record } from '../autograd';
import { checkTensor } from '../check';
import { describe, fail, shapeStr } from '../errors';
import { native, type PoolShape } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

const OP = 'maxPool2d';

export interface MaxPool2dOptions {
  /** Step between windows: one number or [h, w]. Default: the kernel size. */
  stride?: number | readonly [number, number];
  /** -infinity added on each side, at most half the kernel: one number or [h, w]. Default 0. */
  padding?: number | readonly [number, number];
}

function pair(name: string, v: unknown, min: number): [number, number] {
  const ok = (d: unknown): d is number => typeof d === 'number' && Number.isInteger(d) && d >= min;
  if (ok(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return [v[0], v[1]];
  return fail(OP, name, `an integer >= ${min} or a pair [h, w] of them`, describe(v));
}

/**
 * x: (N, C, H, W); kernel: one number or [kh, kw]. Returns (N, C, Ho, Wo) with
 * Ho = floor((H + 2 padH - kh) / strideH) + 1, Wo likewise.
 */
export function maxPool2d(x: Tensor, kernel: number | readonly [number, number], opts: MaxPool2dOptions = {}): Tensor {
  checkTensor(OP, 'x', x, { ndim: 4 });
  if (typeof opts !== 'object' || opts === null) fail(OP, 'options', 'an object', describe(opts));
  const [kh, kw] = pair('kernel', kernel, 1);
  const [sh, sw] = pair('stride', opts.stride ?? [kh, kw], 1);
  const [ph, pw] = pair('padding', opts.padding ?? 0, 0);
  if (2 * ph > kh || 2 * pw > kw) fail(OP, 'padding', `at most half the kernel ${kh} x ${kw}`, describe(opts.padding));
  const [N, C, H, W] = x.shape;
  if (H < 1 || W < 1) fail(OP, 'x', 'a map of at least 1 x 1', `shape ${shapeStr(x.shape)}`);
  if (kh > H + 2 * ph || kw > W + 2 * pw)
    fail(OP, 'kernel', `a window no larger than the padded input ${H + 2 * ph} x ${W + 2 * pw}`, describe(kernel));
  const shape: PoolShape = { N, C, H, W, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw };
  const Ho = Math.floor((H + 2 * ph - kh) / sh) + 1, Wo = Math.floor((W + 2 * pw - kw) / sw) + 1;
  const device = x.device;
  // out, indices: (N, C, Ho, Wo)
  const out = Tensor.empty([N, C, Ho, Wo], { device });
  const tracking = isGradEnabled() && x.requiresGrad;
  const indices = tracking ? Tensor.empty([N, C, Ho, Wo], { device, dtype: 'int64' }) : null;
  withDense([x], (xd) => native.maxpool2d_forward({ out: out.storage, indices: indices?.storage ?? null, inp: xd.storage, ...shape }));
  if (!indices) return out;
  const xShape = x.shape;
  record(OP, out, [x], [indices], (g, [idx]) => {
    const dx = Tensor.empty(xShape, { device: g.device });
    withDense([g], (gd) => native.maxpool2d_backward({ dinp: dx.storage, dout: gd.storage, indices: idx.storage, ...shape }));
    return [dx];
  });
  indices.dispose();
  return out;
}

// Average pooling. Global: (N, C, H, W) -> (N, C, 1, 1), as F.adaptive_avg_pool2d(x, 1).
// Built on sum_to rather than a kernel of its own: sum_to's inner-reduced path already sums
// each contiguous H*W run per (n, c) in one pass over x (what a dedicated kernel would do),
// and the 1/(H*W) factor is a scale over the N*C outputs. Backward spreads dout / (H*W):
// a scale over N*C values viewed with stride 0 over H and W, so no (N, C, H, W) buffer is
// written until a consumer needs one.
import { record } from '../autograd';
import { checkTensor } from '../check';
import { describe, fail, shapeStr } from '../errors';
import type { Tensor } from '../tensor';
import { broadcastView, sumTo } from './broadcast';
import { mean } from './sum';
import { reshape } from './views';

export function globalAvgPool(x: Tensor): Tensor {
  checkTensor('globalAvgPool', 'x', x, { ndim: 4 });
  const [n, c, h, w] = x.shape;
  if (h * w === 0) fail('globalAvgPool', 'x', 'a non-empty spatial size (H * W > 0)', `shape ${shapeStr(x.shape)}`);
  // out: (N, C, 1, 1)
  const out = sumTo(x, [n, c, 1, 1], 1 / (h * w));
  const xShape = x.shape;
  return record('globalAvgPool', out, [x], [], (g) => {
    const gs = sumTo(g, g.shape, 1 / (h * w)); // a fresh (N, C, 1, 1) tensor: dout / (H*W)
    const dx = broadcastView(gs, xShape);
    gs.dispose();
    return [dx];
  });
}

/**
 * Average pooling with the window as its stride, as nn.AvgPool2d(kernel) on a map that the
 * window tiles (the RepMLP block's Global Perceptron): (N, C, H, W) -> (N, C, H/kh, W/kw).
 * The mean over the window axes of the (N, C, H/kh, kh, W/kw, kw) view, so one sum_to pass
 * forward and a stride-0 view of dout / (kh kw) backward, as globalAvgPool.
 */
export function avgPool2d(x: Tensor, kernel: number | readonly [number, number]): Tensor {
  const op = 'avgPool2d';
  checkTensor(op, 'x', x, { ndim: 4 });
  const ok = (d: unknown): d is number => typeof d === 'number' && Number.isInteger(d) && d >= 1;
  const [kh, kw] = ok(kernel) ? [kernel, kernel] : Array.isArray(kernel) && kernel.length === 2 && ok(kernel[0]) && ok(kernel[1]) ? kernel : fail(op, 'kernel', 'a positive integer or a pair [h, w] of them', describe(kernel));
  const [N, C, H, W] = x.shape;
  if (H % kh || W % kw || H === 0 || W === 0) fail(op, 'x', `a non-empty map whose height and width are multiples of the kernel ${kh} x ${kw}`, `shape ${shapeStr(x.shape)}`);
  // (N, C, H/kh, kh, W/kw, kw) -> mean over kh and kw: (N, C, H/kh, W/kw)
  const windows = reshape(x, [N, C, H / kh, kh, W / kw, kw]);
  const y = mean(windows, [3, 5]);
  windows.dispose();
  return y;
}

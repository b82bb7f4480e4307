// Global average pool: (N, C, H, W) -> (N, C, 1, 1), as F.adaptive_avg_pool2d(x, 1).
// Built on sum_to rather than a kernel of its own: sum_to's inner-reduced path already sums
// each contiguous H*W run per (n, c) in one pass over x (what a dedicated kernel would do),
// and the 1/(H*W) factor is a scale over the N*C outputs. Backward spreads dout / (H*W):
// a scale over N*C values viewed with stride 0 over H and W, so no (N, C, H, W) buffer is
// written until a consumer needs one.
import { record } from '../autograd';
import { checkTensor } from '../check';
import { fail, shapeStr } from '../errors';
import { Tensor } from '../tensor';
import { broadcastView, sumTo } from './broadcast';

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

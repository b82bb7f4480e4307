// expand(x, shape): x repeated along size-1 (or new leading) dimensions, as a stride-0 view
// (PyTorch semantics; -1 keeps a size). Backward: dout summed back to x's shape.
import { record } from '../autograd';
import { checkTensor } from '../check';
import { describe, fail, shapeStr } from '../errors';
import { Tensor } from '../tensor';
import { broadcastView, sumTo } from './broadcast';

export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('expand', 'x', x);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < -1))
    fail('expand', 'shape', 'an array of sizes (integers >= 0, or -1 to keep a size)', describe(shape));
  if (shape.length < x.ndim)
    fail('expand', 'shape', `at least ${x.ndim} dimensions like x's shape ${shapeStr(x.shape)}`, shapeStr(shape));
  const lead = shape.length - x.ndim;
  const target = shape.map((d, i) => {
    if (i < lead) {
      if (d === -1) fail('expand', 'shape', `a size for the new leading dimension ${i}`, `-1 in ${shapeStr(shape)}`);
      return d;
    }
    const own = x.shape[i - lead];
    if (d === -1) return own;
    if (own !== 1 && d !== own)
      fail('expand', 'shape', `size ${own} (or -1) in dimension ${i}, where x's shape ${shapeStr(x.shape)} is not 1`, shapeStr(shape));
    return d;
  });
  const out = broadcastView(x, target);
  const xShape = x.shape;
  return record('expand', out, [x], [], (g) => [sumTo(g, xShape)]);
}

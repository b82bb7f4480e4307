// sum and mean over all elements or over some dimensions (keepDim keeps them as size 1),
// through the native sum_to kernel (double accumulation). Backward: dout viewed with
// stride 0 along the summed dimensions (scaled by 1/count for mean), no copy.
import { record } from '../autograd';
import { checkTensor } from '../check';
import { describe, fail } from '../errors';
import { Tensor } from '../tensor';
import { sumTo } from './broadcast';

// The summed dimensions (sorted, non-negative) of an x with nd dimensions.
function resolveDims(op: string, nd: number, dims: readonly number[] | undefined): number[] {
  if (dims === undefined) return [...Array(nd).keys()];
  if (!Array.isArray(dims) || dims.length === 0) fail(op, 'dims', 'a non-empty array of dimensions', describe(dims));
  const out = dims.map((d) => {
    if (!Number.isInteger(d) || d < -nd || d >= nd) fail(op, 'dims', `dimensions in [${-nd}, ${nd - 1}]`, describe(dims));
    return d < 0 ? d + nd : d;
  });
  if (new Set(out).size !== out.length) fail(op, 'dims', 'distinct dimensions', describe(dims));
  return out.sort((a, b) => a - b);
}

function reduce(op: 'sum' | 'mean', x: Tensor, dims: readonly number[] | undefined, keepDim: boolean): Tensor {
  checkTensor(op, 'x', x);
  if (typeof keepDim !== 'boolean') fail(op, 'keepDim', 'a boolean', describe(keepDim));
  const summed = resolveDims(op, x.ndim, dims);
  const isSummed = x.shape.map((_, i) => summed.includes(i));
  // keepShape: x.shape with 1 in the summed dimensions; out: keepShape, or without those dimensions
  const keepShape = x.shape.map((d, i) => (isSummed[i] ? 1 : d));
  const count = summed.reduce((c, i) => c * x.shape[i], 1);
  const alpha = op === 'mean' ? 1 / count : 1; // mean over nothing is 0 * Infinity = NaN, as in PyTorch
  const kept = sumTo(x, keepShape, alpha);
  const outShape = keepDim ? keepShape : x.shape.filter((_, i) => !isSummed[i]);
  const out = kept.view(outShape, kept.strides.filter((_, i) => keepDim || !isSummed[i]), kept.offset);
  kept.dispose();
  const xShape = x.shape;
  return record(op, out, [x], [], (g) => {
    // g: outShape -> a view of xShape that repeats it along the summed dimensions
    const gs = alpha === 1 ? g : sumTo(g, g.shape, alpha);
    const strides: number[] = [];
    for (let i = 0, k = 0; i < xShape.length; i++) {
      if (!isSummed[i]) strides.push(gs.strides[k++]);
      else {
        strides.push(0);
        if (keepDim) k++;
      }
    }
    const dx = gs.view(xShape, strides, gs.offset);
    if (gs !== g) gs.dispose();
    return [dx];
  });
}

/** The sum over `dims` (default: all, giving shape []). */
export function sum(x: Tensor, dims?: readonly number[], keepDim = false): Tensor {
  return reduce('sum', x, dims, keepDim);
}

/** The mean over `dims` (default: all, giving shape []). */
export function mean(x: Tensor, dims?: readonly number[], keepDim = false): Tensor {
  return reduce('mean', x, dims, keepDim);
}

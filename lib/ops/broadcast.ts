// Broadcasting helpers shared by the elementwise ops: PyTorch's shape rules, the strides
// that read an operand as if it had the broadcast shape (0 on broadcast dimensions), and
// sumTo, which reduces a gradient back to an operand's shape (native sum_to).
import { fail, shapeStr } from '../errors';
import { native } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

/** The broadcast shape of a and b (trailing dimensions aligned; sizes equal or one of them 1). */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const nd = Math.max(a.length, b.length);
  const out = new Array<number>(nd);
  for (let i = 1; i <= nd; i++) {
    const da = i <= a.length ? a[a.length - i] : 1, db = i <= b.length ? b[b.length - i] : 1;
    if (da !== db && da !== 1 && db !== 1)
      fail(op, 'b', `a shape that broadcasts with a's shape ${shapeStr(a)}`, `shape ${shapeStr(b)} (size ${db} against ${da} in dimension ${nd - i} of the result)`);
    out[nd - i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read t as a tensor of `shape` (t broadcasts to it): 0 on broadcast dimensions. */
export function broadcastStrides(t: Tensor, shape: readonly number[]): number[] {
  const lead = shape.length - t.ndim;
  return shape.map((_, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : t.strides[i - lead]));
}

/**
 * @internal alpha * (g summed over the dimensions where `shape` is 1 or missing), as a
 * tensor of `shape` (which must broadcast to g's shape). No autograd node. When nothing is
 * summed and alpha is 1 the result is a view of g.
 */
export function sumTo(g: Tensor, shape: readonly number[], alpha = 1): Tensor {
  const padded = [...new Array<number>(g.ndim - shape.length).fill(1), ...shape];
  const reduces = padded.some((d, i) => d !== g.shape[i]);
  if (!reduces && alpha === 1) return g.view(shape, g.strides.slice(g.ndim - shape.length), g.offset);
  const out = Tensor.empty(shape, { device: g.device });
  withDense([g], (gd) => {
    if (!reduces) native.scale(out.storage, gd.storage, alpha, 0, out.numel);
    else {
      native.sum_to(out.storage, gd.storage, [...g.shape], padded);
      if (alpha !== 1) native.scale(out.storage, out.storage, alpha, 0, out.numel);
    }
  });
  return out;
}

/** @internal A stride-0 view of t (which broadcasts to `shape`) with that shape. */
export function broadcastView(t: Tensor, shape: readonly number[]): Tensor {
  return t.view(shape, broadcastStrides(t, shape), t.offset);
}

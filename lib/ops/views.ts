// Views and copies: reshape, permute, slice (leading axis) and contiguous. Views share the
// input's storage; only contiguous() (and reshape of a non-contiguous view) copies. Loading
// this module installs them as the Tensor methods of the same names (see tensor.ts).
import { record } from '../autograd';
import { describe, fail, shapeStr } from '../errors';
import { native } from '../native';
import { contiguousStrides, fillTensor, installTensorMethods, materialize, numelOf, Tensor } from '../tensor';

/**
 * @internal Runs fn with dense (contiguous from element 0) versions of the tensors: the
 * tensors themselves when already dense, else untracked copies freed when fn returns.
 * No autograd node is recorded; ops record their own.
 */
export function withDense<T>(xs: readonly Tensor[], fn: (...dense: Tensor[]) => T): T {
  const ds = xs.map((x) => (x.isContiguous && x.offset === 0 ? x : materialize(x, false)));
  try {
    return fn(...ds);
  } finally {
    ds.forEach((d, i) => d !== xs[i] && d.dispose());
  }
}

/** x itself when it is contiguous from element 0 of its storage, else a dense copy. */
export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous && x.offset === 0) return x;
  const out = materialize(x);
  return record('contiguous', out, [x], [], (g) => [g.view(g.shape, g.strides, g.offset)]);
}

function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const infer = out.indexOf(-1);
  if (out.some((d, i) => !Number.isInteger(d) || d < -1 || (d === -1 && i !== infer)))
    fail(op, 'shape', 'non-negative integer sizes with at most one -1', describe(shape));
  if (infer >= 0) {
    const known = numelOf(out.filter((_, i) => i !== infer));
    if (known === 0 || x.numel % known !== 0) fail(op, 'shape', `a shape that fits ${x.numel} elements`, shapeStr(shape));
    out[infer] = x.numel / known;
  }
  if (numelOf(out) !== x.numel) fail(op, 'shape', `a shape of ${x.numel} elements like ${shapeStr(x.shape)}`, shapeStr(shape));
  return out;
}

/** The same elements in a new shape (one size may be -1). A view when x is contiguous. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = resolveShape('reshape', x, shape);
  const src = x.isContiguous ? x : materialize(x);
  const out = src.view(target, contiguousStrides(target), src.offset);
  if (src !== x) src.dispose();
  const inShape = x.shape;
  return record('reshape', out, [x], [], (g) => [reshape(g, inShape)]);
}

/** Reorders the axes: out.shape[i] = x.shape[dims[i]]. Always a view. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const nd = x.ndim;
  const seen = new Set(dims);
  if (dims.length !== nd || seen.size !== nd || dims.some((d) => !Number.isInteger(d) || d < 0 || d >= nd))
    fail('permute', 'dims', `a permutation of 0..${nd - 1}`, describe(dims));
  const out = x.view(
    dims.map((d) => x.shape[d]),
    dims.map((d) => x.strides[d]),
    x.offset,
  );
  const inverse = new Array<number>(nd);
  dims.forEach((d, i) => (inverse[d] = i));
  return record('permute', out, [x], [], (g) => [permute(g, inverse)]);
}

/** Rows [start, end) of the leading axis. Always a view. */
export function slice(x: Tensor, start: number, end: number): Tensor {
  if (x.ndim === 0) fail('slice', 'x', 'a tensor with at least one dimension', 'a scalar');
  const rows = x.shape[0];
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > rows || start > end)
    fail('slice', 'range', `0 <= start <= end <= ${rows}`, `start ${start} and end ${end}`);
  const shape = [end - start, ...x.shape.slice(1)];
  const out = x.view(shape, x.strides, x.offset + start * x.strides[0]);
  const inShape = x.shape;
  return record('slice', out, [x], [], (g) => {
    // dx is zero outside the slice; the slice's rows are a dense block of dx.
    const dx = fillTensor(Tensor.empty(inShape, { device: g.device }), 0);
    const rowNumel = numelOf(inShape.slice(1));
    native.strided_copy(dx.storage, start * rowNumel, g.storage, g.offset, [...g.shape], [...g.strides]);
    return [dx];
  });
}

installTensorMethods({ reshape, permute, slice, contiguous });

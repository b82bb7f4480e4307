// Argument checks shared by the ops: every failure names the op, the argument, what was
// expected and what came.
import { describe, fail, shapeStr } from './errors';
import type { DType, Tensor } from './tensor';

export interface TensorSpec {
  dtype?: DType;
  ndim?: number;
  shape?: readonly (number | null)[]; // null: any size in that dimension
}

const article = (dtype: DType) => (dtype === 'int64' ? 'an' : 'a');

/** Checks that `t` is a live tensor matching spec; returns it. */
export function checkTensor(op: string, name: string, t: unknown, spec: TensorSpec = {}): Tensor {
  if (typeof t !== 'object' || t === null || (t as { isTensor?: unknown }).isTensor !== true)
    fail(op, name, 'a Tensor', describe(t));
  const x = t as Tensor;
  if (x.disposed) fail(op, name, 'a live tensor', 'a disposed one');
  const dtype = spec.dtype ?? 'float32';
  if (x.dtype !== dtype) fail(op, name, `${article(dtype)} ${dtype} tensor`, `${article(x.dtype)} ${x.dtype} tensor`);
  const ndim = spec.ndim ?? spec.shape?.length;
  if (ndim !== undefined && x.ndim !== ndim) fail(op, name, `a ${ndim}-d tensor`, `shape ${shapeStr(x.shape)}`);
  if (spec.shape && spec.shape.some((d, i) => d !== null && d !== x.shape[i]))
    fail(op, name, `shape ${shapeStr(spec.shape.map((d) => (d === null ? '*' : d)) as never)}`, `shape ${shapeStr(x.shape)}`);
  return x;
}

/** Checks that all tensors live on one device; returns it. */
export function checkSameDevice(op: string, tensors: Record<string, Tensor | null | undefined>): 'cpu' | 'cuda' {
  let first: [string, Tensor] | null = null;
  for (const [name, t] of Object.entries(tensors)) {
    if (!t) continue;
    if (!first) first = [name, t];
    else if (t.device !== first[1].device)
      fail(op, name, `a tensor on ${first[1].device} like ${first[0]}`, `one on ${t.device}`);
  }
  return first ? first[1].device : 'cpu';
}

/** Checks a positive integer option. */
export function checkInt(op: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(op, name, `an integer >= ${min}`, describe(v));
  return v;
}

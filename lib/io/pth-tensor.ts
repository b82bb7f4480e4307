// A tensor's elements from its storage, as the view the pickle describes: any strides
// (transposes, expanded dimensions), any storage offset, storages shared between tensors.
// Only the span of the storage the view reaches is read; the result is contiguous.
// float32 and int64 stay as they are; float16 and bfloat16 are widened and float64 rounded
// to float32; the integer and bool types become int64.
import type { HostTensor } from './safetensors';
import { widenHalf } from './half';
import { ITEM_BYTES, type StorageDType, type TensorRef } from './pickle-values';

/** Where a file keeps its storages: each one's size in bytes, and positioned reads of it. */
export interface StorageSource {
  /** the storage's size in bytes, or undefined when the file does not hold it */
  byteSize(key: string): number | undefined;
  /** bytes [from, from + len) of the storage */
  read(key: string, from: number, len: number): Buffer;
  /** raises the file's error: `<file> is not a PyTorch checkpoint: <what>` */
  bad(what: string): never;
}

/** The elements [0, count) of a storage span as float32 or int64. */
function decode(bytes: Buffer, dtype: StorageDType, count: number): Float32Array | BigInt64Array {
  const ab = new ArrayBuffer(count * ITEM_BYTES[dtype]); // aligned copy
  new Uint8Array(ab).set(bytes.subarray(0, ab.byteLength));
  switch (dtype) {
    case 'float32': return new Float32Array(ab);
    case 'int64': return new BigInt64Array(ab);
    case 'float16': return widenHalf(new Uint16Array(ab), 'F16');
    case 'bfloat16': return widenHalf(new Uint16Array(ab), 'BF16');
    case 'float64': return Float32Array.from(new Float64Array(ab));
    case 'int32': return BigInt64Array.from(new Int32Array(ab), BigInt);
    case 'int16': return BigInt64Array.from(new Int16Array(ab), BigInt);
    case 'int8': return BigInt64Array.from(new Int8Array(ab), BigInt);
    case 'uint8': case 'bool': return BigInt64Array.from(new Uint8Array(ab), BigInt);
  }
}

/** One past the last storage element the view reaches, counted from its offset (0 for no elements). */
function viewExtent(shape: readonly number[], stride: readonly number[]): number {
  if (shape.some((d) => d === 0)) return 0;
  return shape.reduce((e, d, i) => e + (d - 1) * stride[i], 0) + 1;
}

function isDense(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/** The view's elements in row-major order, gathered from `span` (which starts at the view's offset). */
function gather<T extends Float32Array | BigInt64Array>(span: T, shape: readonly number[], stride: readonly number[], count: number): T {
  const out = new (span.constructor as new (n: number) => T)(count);
  const nd = shape.length;
  const index = new Array<number>(nd).fill(0);
  let at = 0;
  for (let i = 0; i < count; i++) {
    out[i] = span[at];
    for (let d = nd - 1; d >= 0; d--) {
      index[d]++;
      at += stride[d];
      if (index[d] < shape[d]) break;
      at -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** The elements of tensor `name` (described by `t`) read from `src`, contiguous. */
export function readTensor(src: StorageSource, t: TensorRef, name: string): HostTensor {
  const { dtype, key, numel } = t.storage;
  const count = t.numel;
  if (!Number.isSafeInteger(count)) src.bad(`tensor '${name}' has shape [${t.shape}], more elements than can be counted`);
  const size = ITEM_BYTES[dtype];
  const bytes = src.byteSize(key);
  if (bytes === undefined) src.bad(`tensor '${name}' refers to storage '${key}', which is not in the file`);
  if (!Number.isSafeInteger(numel * size) || bytes !== numel * size)
    src.bad(`storage '${key}' holds ${bytes} bytes, not the ${numel} ${dtype} elements the pickle says`);
  const dense = isDense(t.shape, t.stride);
  const extent = dense ? count : viewExtent(t.shape, t.stride);
  if (t.offset + extent > numel) {
    const reach = dense ? `${count} elements` : `${count} elements, strides [${t.stride}] reaching ${extent} elements`;
    src.bad(`tensor '${name}' (offset ${t.offset}, ${reach}) does not fit its storage of ${numel} elements`);
  }
  const span = decode(src.read(key, t.offset * size, extent * size), dtype, extent);
  const data = dense ? span : gather(span, t.shape, t.stride, count);
  const floating = dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
  return { dtype: floating ? 'float32' : 'int64', shape: [...t.shape], data };
}

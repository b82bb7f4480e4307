// Creating tensors: from host data, filled with a value, or random.
import { describe, fail, shapeStr } from './errors';
import { Rng } from './rng';
import { fillTensor, numelOf, Tensor, type TensorOptions } from './tensor';

type HostData = Float32Array | Float64Array | Int32Array | BigInt64Array | readonly number[];

/** A tensor holding `data` (row-major) with `shape` (default: 1-d). */
export function tensor(data: HostData, shape?: readonly number[], opts: TensorOptions = {}): Tensor {
  const dtype = opts.dtype ?? (data instanceof BigInt64Array ? 'int64' : 'float32');
  const shp = shape ?? [data.length];
  if (numelOf(shp) !== data.length)
    fail('tensor', 'shape', `a shape of ${data.length} elements`, shapeStr(shp));
  const t = Tensor.empty(shp, { ...opts, dtype });
  let host: Float32Array | BigInt64Array;
  if (dtype === 'float32') {
    host = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>, (v) => Number(v));
  } else {
    if (data instanceof BigInt64Array) host = data;
    else {
      const arr = Array.from(data as ArrayLike<number>);
      const bad = arr.find((v) => !Number.isSafeInteger(v));
      if (bad !== undefined) fail('tensor', 'data', INT64_NUMBERS, describe(bad));
      host = BigInt64Array.from(arr, (v) => BigInt(v));
    }
  }
  if (data.length) t.storage.write(host, 0);
  return t;
}

// Numbers become int64 elements only where they are exact integers (magnitude below 2^53):
// BigInt64Array.from would wrap larger ones silently, and the native fill refuses them.
// Larger values are given as a BigInt64Array.
const INT64_NUMBERS = 'integers of magnitude below 2^53 for an int64 tensor (a BigInt64Array for larger ones)';

export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  if (typeof value !== 'number') fail('full', 'value', 'a number', describe(value));
  if (opts.dtype === 'int64' && !Number.isSafeInteger(value)) fail('full', 'value', INT64_NUMBERS, describe(value));
  return fillTensor(Tensor.empty(shape, opts), value);
}

export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

export function empty(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return Tensor.empty(shape, opts);
}

/** Normal(mean, std) samples from a seeded generator. */
export function randn(shape: readonly number[], rng: Rng, opts: TensorOptions & { mean?: number; std?: number } = {}): Tensor {
  const n = numelOf(shape);
  const host = new Float32Array(n);
  const mean = opts.mean ?? 0, std = opts.std ?? 1;
  for (let i = 0; i < n; i++) host[i] = mean + std * rng.normal();
  return tensor(host, shape, opts);
}

/** Uniform samples in [low, high) from a seeded generator. */
export function rand(shape: readonly number[], rng: Rng, opts: TensorOptions & { low?: number; high?: number } = {}): Tensor {
  const n = numelOf(shape);
  const host = new Float32Array(n);
  const low = opts.low ?? 0, high = opts.high ?? 1;
  for (let i = 0; i < n; i++) host[i] = low + (high - low) * rng.uniform();
  return tensor(host, shape, opts);
}

// Tensor: a view (shape, strides, element offset) of a reference-counted native storage,
// with the autograd fields (requiresGrad, grad, gradFn). Views share storage and cost
// nothing; kernels get contiguous data through contiguous().
//
// This module imports only what lies below it (errors, native, storage, scope's bookkeeping)
// and types. The views (ops/views.ts) and backward (autograd.ts) are built on Tensor, so
// importing them here would close a cycle; they install themselves when they load (see
// installTensorMethods), and the Tensor methods of the same names call through that table.
import type { Node } from './autograd';
import { describe, fail, RepmlpError, shapeStr } from './errors';
import { native, type Device, type DType, type NativeStorage } from './native';
import { keep, trackTensor } from './scope';
import { StorageRef } from './storage';

export type { Device, DType };

/** The Tensor methods implemented by the modules above this one. */
export interface TensorMethods {
  reshape(x: Tensor, shape: readonly number[]): Tensor;
  permute(x: Tensor, dims: readonly number[]): Tensor;
  slice(x: Tensor, start: number, end: number): Tensor;
  contiguous(x: Tensor): Tensor;
  backward(root: Tensor, gradient: Tensor | undefined, opts: BackwardOptions): void;
}

export interface BackwardOptions {
  /** keep the graph's saved tensors for another backward (default false) */
  retainGraph?: boolean;
  /**
   * Called once for each leaf that requires grad and that the graph reaches, as soon as no
   * node still to run can add to its .grad (its gradient is complete): a data-parallel
   * wrapper starts reducing it while the backward goes on. The leaf's .grad is null when no
   * gradient reached it.
   */
  onLeafReady?: (leaf: Tensor) => void;
}

// The module that installs each method, named in the error when it was not loaded.
const INSTALLED_BY: Readonly<Record<keyof TensorMethods, string>> = {
  reshape: 'lib/ops/views.ts',
  permute: 'lib/ops/views.ts',
  slice: 'lib/ops/views.ts',
  contiguous: 'lib/ops/views.ts',
  backward: 'lib/autograd.ts',
};

const methods: Partial<TensorMethods> = {};

/** @internal Called by ops/views.ts and autograd.ts when they load. */
export function installTensorMethods(impl: Partial<TensorMethods>): void {
  Object.assign(methods, impl);
}

function method<K extends keyof TensorMethods>(name: K): TensorMethods[K] {
  const m = methods[name];
  if (!m) fail(`Tensor.${name}`, 'this method', `${INSTALLED_BY[name]} to be loaded`, 'a call before it was (import the package index, which loads it)');
  return m;
}

export interface TensorOptions {
  device?: Device;
  dtype?: DType;
  requiresGrad?: boolean;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class Tensor {
  readonly isTensor = true;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  readonly device: Device;
  requiresGrad = false;
  /** Accumulated gradient of a leaf tensor (owned by this tensor; freed with it). */
  grad: Tensor | null = null;
  /** The autograd node that produced this tensor (null for leaves). */
  gradFn: Node | null = null;
  private ref: StorageRef | null;

  /** @internal Use the creation functions (tensor, zeros, empty, ...) instead. */
  constructor(ref: StorageRef, shape: readonly number[], strides: readonly number[], offset: number, track = true) {
    this.ref = ref;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    this.dtype = ref.raw.dtype;
    this.device = ref.raw.device;
    if (track) trackTensor(this);
  }

  /** A new uninitialised contiguous tensor. */
  static empty(shape: readonly number[], opts: TensorOptions = {}): Tensor {
    for (const d of shape)
      if (!Number.isInteger(d) || d < 0) throw new RepmlpError(`empty: expected non-negative integer sizes for shape but received ${shapeStr(shape)}`);
    const ref = StorageRef.alloc(opts.device ?? 'cpu', opts.dtype ?? 'float32', numelOf(shape));
    const t = new Tensor(ref, shape, contiguousStrides(shape), 0);
    if (opts.requiresGrad) t.requiresGrad = true;
    return t;
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.ref === null;
  }

  /** Strides of a dense row-major layout (whatever the offset). */
  get isContiguous(): boolean {
    let acc = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== acc) return false;
      acc *= this.shape[i];
    }
    return true;
  }

  /** The native storage; throws when the tensor was disposed. */
  get storage(): NativeStorage {
    return this.storageRef().raw;
  }

  /** @internal */
  storageRef(): StorageRef {
    if (!this.ref) throw new RepmlpError(`Tensor${shapeStr(this.shape)}: expected a live tensor but received one that was disposed`);
    return this.ref;
  }

  /** @internal A new tensor object over the same storage (its own reference). */
  view(shape: readonly number[], strides: readonly number[], offset: number, track = true): Tensor {
    return new Tensor(this.storageRef().retain(), shape, strides, offset, track);
  }

  /** @internal Does this tensor own its storage alone, densely from element 0? */
  get isExclusiveDense(): boolean {
    return this.ref !== null && this.ref.refCount === 1 && this.offset === 0 && this.isContiguous && this.ref.raw.numel === this.numel;
  }

  /** Frees this tensor's reference to its storage (and its gradient). Safe to call twice. */
  dispose(): void {
    if (!this.ref) return;
    this.ref.release();
    this.ref = null;
    this.grad?.dispose();
    this.grad = null;
    // gradFn stays: a disposed intermediate is still an edge of the graph behind it.
  }

  // ---- views and copies (differentiable; implemented in ops/views.ts) ----
  reshape(...shape: number[]): Tensor {
    return method('reshape')(this, shape);
  }
  permute(...dims: number[]): Tensor {
    return method('permute')(this, dims);
  }
  /** Rows [start, end) of the leading axis, without a copy. */
  slice(start: number, end?: number): Tensor {
    return method('slice')(this, start, end ?? this.shape[0]);
  }
  /** This tensor when it is already contiguous from its storage's start, else a contiguous copy. */
  contiguous(): Tensor {
    return method('contiguous')(this);
  }
  /**
   * Returns a contiguous copy on `device` (one direct copy between the devices; not
   * differentiable), or this tensor when it is already there.
   */
  to(device: Device): Tensor {
    if (device !== 'cpu' && device !== 'cuda') fail('to', 'device', "'cpu' or 'cuda'", describe(device));
    if (device === this.device) return this;
    const src = this.isContiguous ? this : materialize(this, false);
    const out = Tensor.empty(this.shape, { device, dtype: this.dtype });
    try {
      native.copy_storage(out.storage, 0, src.storage, src.offset, this.numel);
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      if (src !== this) src.dispose();
    }
    return out;
  }
  /** A tensor with the same data that does not require grad (shares storage). */
  detach(): Tensor {
    return this.view(this.shape, this.strides, this.offset);
  }

  // ---- reading back ----
  /** The elements in row-major order, copied to the host. */
  data(): Float32Array | BigInt64Array {
    if (this.isContiguous) return this.storage.read(this.offset, this.numel);
    const c = materialize(this, false);
    try {
      return c.storage.read(0, c.numel);
    } finally {
      c.dispose();
    }
  }
  /** float32 elements copied to the host. */
  toFloat32Array(): Float32Array {
    const d = this.data();
    return d instanceof Float32Array ? d : Float32Array.from(d, (x) => Number(x));
  }
  /** Nested arrays of numbers (int64 values converted to numbers). */
  toArray(): unknown {
    const flat = Array.from(this.data() as ArrayLike<number | bigint>, (x) => Number(x));
    const build = (dim: number, off: number): unknown => {
      if (dim === this.shape.length) return flat[off];
      const step = numelOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }
  /** The value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new RepmlpError(`item: expected a tensor of one element but received shape ${shapeStr(this.shape)}`);
    return Number(this.storage.read(this.offset, 1)[0]);
  }

  // ---- autograd ----
  /** Computes gradients of this scalar (or of `gradient`·this) into the leaves' .grad. */
  backward(gradient?: Tensor, opts: BackwardOptions = {}): void {
    method('backward')(this, gradient, opts);
  }
  /** Marks this leaf tensor as needing gradients; returns it. */
  requiresGrad_(flag = true): this {
    if (this.gradFn) throw new RepmlpError('requiresGrad_: expected a leaf tensor but received the output of an op');
    this.requiresGrad = flag;
    return this;
  }
  /** Exempts this tensor from the enclosing scopes (see scope()). */
  keep(): this {
    return keep(this);
  }

  toString(): string {
    return `Tensor(shape=${shapeStr(this.shape)}, dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

/** @internal Sets every element of a contiguous tensor. */
export function fillTensor(t: Tensor, value: number): Tensor {
  native.fill(t.storage, value, t.offset, t.numel);
  return t;
}

/**
 * @internal A dense copy of any view (no autograd). An untracked copy (track false) belongs
 * to no scope: its caller frees it.
 */
export function materialize(x: Tensor, track = true): Tensor {
  const out = Tensor.empty(x.shape, { device: x.device, dtype: x.dtype });
  if (!track) {
    const t = out.view(out.shape, out.strides, 0, false);
    out.dispose();
    native.strided_copy(t.storage, 0, x.storage, x.offset, [...x.shape], [...x.strides]);
    return t;
  }
  native.strided_copy(out.storage, 0, x.storage, x.offset, [...x.shape], [...x.strides]);
  return out;
}

// Loads the native addon (a prebuild from prebuilds/, else build/Release) through
// node-gyp-build and declares the kernels it exports. Kernel arguments follow the llm.c
// habit: outputs first, then saved buffers, then inputs, then sizes; a kernel of many
// arguments takes one object of named fields instead. Every tensor argument
// is a Storage holding contiguous data from element 0 unless an offset argument says otherwise.
// The addon throws plain JS errors (their messages start with the op's name); every binding
// is wrapped once here, so that callers get a RepmlpError with the same message.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RepmlpError } from './errors';
import type { UnaryName } from './ops/unary';

export type DType = 'float32' | 'int64';
export type Device = 'cpu' | 'cuda';

export interface NativeStorage {
  readonly numel: number;
  readonly dtype: DType;
  readonly device: Device;
  readonly disposed: boolean;
  dispose(): void;
  read(offset?: number, count?: number): Float32Array | BigInt64Array;
  write(src: Float32Array | BigInt64Array, offset?: number): void;
}

export interface LiveStorages {
  cpuBuffers: number;
  cpuBytes: number;
  cudaBuffers: number;
  cudaBytes: number;
}

/** One device's allocator statistics (bytes in the allocator's rounded block sizes). */
export interface NativeMemStats {
  allocated: number;
  reserved: number;
  peakAllocated: number;
  peakReserved: number;
  blocks: number;
  systemAllocs: number;
  cacheHits: number;
}

export type CpuIsa = 'avx512' | 'avx2' | 'baseline';

export interface RuntimeInfo {
  threads: number;
  /** the panel widths of gemm_pack's layout: rows of op(A), columns of op(B) */
  gemmPanels: [number, number];
  /** the instruction set of the CPU GEMM's kernel now, and the best the CPU has (native/cpu_isa.h) */
  cpuIsa: CpuIsa;
  cpuIsaSupported: CpuIsa;
  cudaCompiled: boolean;
  cudaDevices: number;
  cudaReason: string;
}

/** One place the cuBLAS loader looked, and why it did not load there. */
export interface CublasAttempt {
  path: string;
  error: string;
}

export interface CublasInfo {
  found: boolean;
  /** the libcublas that was loaded, null when none */
  path: string | null;
  /** "major.minor.patch", null when not found */
  version: string | null;
  /** every attempt that failed, in search order */
  tried: CublasAttempt[];
  /** TF32 tensor cores for float32 GEMMs (REPMLP_TF32=1 or setTf32) */
  tf32: boolean;
}

export interface CudaDevice {
  index: number;
  name: string | null;
  /** e.g. "9.0" */
  computeCapability: string | null;
  /** bytes */
  totalMemory: number | null;
}

export interface CudaInfo {
  /** was the addon built with CUDA sources? */
  compiled: boolean;
  /** why no device is usable; null when one is */
  reason: string | null;
  devices: CudaDevice[];
  /** "13.0"; null without a driver */
  driverVersion: string | null;
  /** the CUDA runtime the addon was linked with; null when not compiled */
  runtimeVersion: string | null;
  cublas: CublasInfo;
}

type S = NativeStorage;

/**
 * unary.cc, for every activation of UNARY_OPS (lib/ops/unary.ts): <name>_forward(out, inp, n)
 * and <name>_backward(dinp, dout, saved, n), all (n); saved is the forward's input or output.
 */
type UnaryBindings = { [K in `${UnaryName}_forward`]: (out: S, inp: S, n: number) => void } & {
  [K in `${UnaryName}_backward`]: (dinp: S, dout: S, saved: S, n: number) => void;
};

// Kernels with many arguments take one object of named fields (the binding reads them by
// name); their shared shape fields:
/** NCHW convolution: inp (N, Cin, H, W), weight (Cout, Cin / groups, kh, kw), out (N, Cout, Ho, Wo) */
export interface Conv2dShape {
  N: number; Cin: number; H: number; W: number; Cout: number; kh: number; kw: number;
  strideH: number; strideW: number; padH: number; padW: number; groups: number;
}
/** activations (N, C, HW), per-channel tensors (C) */
export interface BatchnormShape {
  N: number; C: number; HW: number;
}
/** y (N*Hp*Wp, C, h, w) partitions of out (N, C, Hp*h, Wp*w); gate (N, C) */
export interface PartitionShape {
  N: number; C: number; Hp: number; h: number; Wp: number; w: number;
}
/** max pooling: inp (N, C, H, W), out and indices (N, C, Ho, Wo); windows kh x kw, at most half of each padded */
export interface PoolShape {
  N: number; C: number; H: number; W: number; kh: number; kw: number;
  strideH: number; strideW: number; padH: number; padW: number;
}
/**
 * C_b (M, N), A_b (M, K) or (K, M) when transA, B_b (K, N) or (N, K) when transB, for b < batch:
 * each operand's first matrix at element off* of its storage, rows ld* apart, matrices stride* apart.
 */
export interface GemmArgs {
  C: S; A: S; B: S; M: number; N: number; K: number; batch: number; transA: boolean; transB: boolean;
  alpha: number; beta: number; offC: number; ldc: number; strideC: number; offA: number; lda: number;
  strideA: number; offB: number; ldb: number; strideB: number;
}

/**
 * gemm_fused: GemmArgs plus packed operands (gemm_pack's output; their ld and trans are not
 * read), a prologue (opA's row i of matrix b becomes scale[v] * row + shift[v], v = (i %
 * proPeriod) * proLd + b * proStride; scale and shift both null for none) and an epilogue:
 * C = act(alpha * A@B + beta * C + bias) * rowScale + residual, with bias[b * biasStride + (i
 * or j)], rowScale[b * rowScaleStride + i * rowScaleLd], residual[b * strideR + i * ldr + j];
 * act 0 none, 1 ReLU, 2 GELU, 3 sigmoid; a null vector leaves its step out. Every storage
 * field X has an element offset offX.
 */
export interface GemmFusedArgs extends GemmArgs {
  packedA: boolean; packedB: boolean;
  scale: S | null; offScale: number; shift: S | null; offShift: number; proPeriod: number; proLd: number; proStride: number;
  bias: S | null; offBias: number; biasStride: number; biasPerColumn: boolean; act: number;
  rowScale: S | null; offRowScale: number; rowScaleLd: number; rowScaleStride: number;
  residual: S | null; offResidual: number; ldr: number; strideR: number;
}
/**
 * gemm_pack: `batch` operands in the GEMM's packed layout. sideB false packs op(A) of
 * (rows, K), true op(B) of (K, rows), the source read as the GEMM reads that operand (ld,
 * trans, matrices stride apart); packed matrix b starts at offOut + b * K * ceil(rows / P) *
 * P, P = runtimeInfo().gemmPanels[sideB ? 1 : 0].
 */
export interface GemmPackArgs {
  out: S; offOut: number; inp: S; offInp: number; sideB: boolean; rows: number; K: number; batch: number;
  ld: number; stride: number; trans: boolean;
}

export interface NativeAddon extends UnaryBindings {
  Storage: new (device: Device, dtype: DType, numel: number) => NativeStorage;
  liveStorages(): LiveStorages;
  // memory.cc
  memoryStats(device: Device): NativeMemStats;
  resetPeakMemoryStats(device: Device): void;
  emptyCache(device: Device): void;
  setPoison(on: boolean): boolean;
  copy_storage(dst: S, dstOffset: number, src: S, srcOffset: number, count: number): void;
  runtimeInfo(): RuntimeInfo;
  setNumThreads(n: number): number;
  setCpuIsa(isa: 'avx512' | 'avx2'): CpuIsa;
  // info.cc
  cudaInfo(): CudaInfo;
  setTf32(on: boolean): boolean;

  // conv2d.cc (inp is read only for dweight, weight only for dinp; null skips a gradient)
  conv2d_forward(p: { out: S; inp: S; weight: S; bias: S | null } & Conv2dShape): void;
  conv2d_backward(p: { dinp: S | null; dweight: S | null; dbias: S | null; dout: S; inp: S | null; weight: S | null } & Conv2dShape): void;
  // batchnorm.cc (running buffers null: not updated). sync: the training statistics over every
  // rank of the distributed world (forward and backward); the forward returns the values per
  // channel they pooled, which the backward takes as count (N * HW without sync).
  // act: 0 none, 1 ReLU, 2 GELU applied to the output in the same pass; residual: null, or added
  // to the output in the same pass (only with act 0). Backward takes the forward output for
  // ReLU and the bias for GELU (null otherwise).
  batchnorm_forward_train(p: {
    out: S; meanSaved: S; invstdSaved: S; runningMean: S | null; runningVar: S | null;
    inp: S; residual: S | null; weight: S; bias: S; momentum: number; eps: number; act: number; sync: boolean;
  } & BatchnormShape): number;
  batchnorm_forward_eval(p: {
    out: S; inp: S; residual: S | null; runningMean: S; runningVar: S; weight: S; bias: S; eps: number; act: number;
  } & BatchnormShape): void;
  batchnorm_backward(p: {
    dinp: S; dweight: S; dbias: S; dout: S; out: S | null; inp: S; meanSaved: S; invstdSaved: S; weight: S; bias: S | null; act: number;
    sync: boolean; count: number;
  } & BatchnormShape): void;
  batchnorm_backward_eval(p: {
    dinp: S; dweight: S; dbias: S; dout: S; out: S | null; inp: S; runningMean: S; runningVar: S; weight: S; bias: S | null;
    eps: number; act: number;
  } & BatchnormShape): void;
  add_scalar_i64(out: S, value: number, offset: number, n: number): void;
  // binary.cc: out = a (op) b over outShape; a, b read with strides that are 0 where broadcast
  binary_forward(out: S, a: S, b: S, op: 'add' | 'sub' | 'mul', outShape: number[], aStrides: number[], bStrides: number[]): void;
  // copy.cc
  strided_copy(out: S, outOffset: number, inp: S, inpOffset: number, shape: number[], strides: number[]): void;
  fill(out: S, value: number, offset: number, n: number): void;
  // reduce.cc: sums inp (inShape) over the dimensions where outShape has size 1 (same rank)
  sum_to(out: S, inp: S, inShape: number[], outShape: number[]): void;
  // bias_grad.cc: dbias (C) = sum of dout (N, C, HW) over N and HW
  bias_grad(dbias: S, dout: S, N: number, C: number, HW: number): void;
  // gemm.cc: for b < batch, C_b = alpha * opA(A_b) @ opB(B_b) + beta * C_b (row-major; see ops/gemm.h)
  gemm_strided_batched(p: GemmArgs): void;
  gemm_fused(p: GemmFusedArgs): void;
  gemm_pack(p: GemmPackArgs): void;
  // infer.cc: an inference program (lib/infer/program.ts) checked and run in one call; the
  // schema lists each step kind's fields in program order (a kind's code is its position)
  infer_run(p: { program: Float64Array; storages: S[]; stepSeconds: Float64Array | null }): void;
  infer_schema(): { kind: string; fields: string[] }[];
  // scale.cc
  axpy(out: S, x: S, alpha: number, n: number): void;
  scale(out: S, x: S, alpha: number, beta: number, n: number): void;
  // unpartition_gate.cc
  unpartition_gate_forward(p: { out: S; y: S; gate: S; residual: S | null } & PartitionShape): void;
  unpartition_gate_backward(p: { dy: S; dgate: S; dout: S; y: S; gate: S } & PartitionShape): void;
  // maxpool.cc: indices (the forward's, int64, the index in its plane of each window's
  // maximum) are null when no backward follows
  maxpool2d_forward(p: { out: S; indices: S | null; inp: S } & PoolShape): void;
  maxpool2d_backward(p: { dinp: S; dout: S; indices: S } & PoolShape): void;
  // cross_entropy.cc: stats (N, 3) = row max, log sum exp(x - max), sum of the target distribution
  cross_entropy_forward(loss: S, losses: S, stats: S, logits: S, target: S, N: number, K: number, labelSmoothing: number): void;
  cross_entropy_backward(dlogits: S, dloss: S, stats: S, logits: S, target: S, N: number, K: number, labelSmoothing: number): void;
  cross_entropy_soft_forward(loss: S, losses: S, stats: S, logits: S, target: S, N: number, K: number, labelSmoothing: number): void;
  cross_entropy_soft_backward(dlogits: S, dloss: S, stats: S, logits: S, target: S, N: number, K: number, labelSmoothing: number): void;
  // correct_count.cc: out (1) = rows of logits (N, K) whose argmax is labels[i] (int64)
  correct_count(out: S, logits: S, labels: S, N: number, K: number): void;
  // adamw.cc: multi-tensor, in place; element k of every list has ns[k] elements; steps count from 1
  adamw_step(p: {
    params: S[]; expAvgs: S[]; expAvgSqs: S[]; grads: S[]; ns: number[]; steps: number[];
    lr: number; beta1: number; beta2: number; eps: number; weightDecay: number;
  }): void;
  // sgd.cc: multi-tensor, in place; firsts[k]: tensor k's momentum buffer is not yet initialised
  sgd_step(params: S[], grads: S[], ns: number[], lr: number, weightDecay: number): void;
  sgd_momentum_step(p: {
    params: S[]; momentumBuffers: S[]; grads: S[]; ns: number[]; firsts: boolean[];
    lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean;
  }): void;

  // dist/bindings.cc: the distributed world; every collective is the identity on a world of one
  distInfo(): DistEngines;
  distInit(p: { engine: 'local' | 'mpi'; timeoutSeconds: number }): NativeWorld;
  distWorld(): NativeWorld;
  // in place over [offset, offset + count) of a float32 or int64 storage
  distAllreduce(p: { buf: S; offset: number; count: number; op: 'sum' | 'max' | 'min' }): void;
  distBroadcast(p: { buf: S; offset: number; count: number; root: number }): void;
  distBarrier(): void;
  // the first ns[k] elements of each tensor summed over the world while the caller goes on;
  // distSumWait writes tensors[k] = that part of the sum * scale
  distSumStart(p: { tensors: S[]; ns: number[] }): PendingSumHandle;
  distSumWait(p: { work: PendingSumHandle; tensors: S[]; ns: number[]; scale: number }): void;
  distFinalize(): void;
}

/** What the native side reports of the distributed world (lib/dist/world.ts wraps it). */
export interface NativeWorld {
  initialized: boolean;
  finalized: boolean;
  engine: 'local' | 'mpi';
  rank: number;
  size: number;
  localRank: number;
  localSize: number;
  /** MPI_Init_thread's level (1: MPI_THREAD_FUNNELED) */
  threadLevel: number;
  implementation: string | null;
  library: string | null;
  version: string | null;
  timeoutSeconds: number;
  /** the CUDA device this rank uses, null when none */
  cudaDevice: number | null;
}

/** A library of the distributed engines, as found (or every place it was looked for). */
export interface EngineLibrary {
  found: boolean;
  path: string | null;
  version: string | null;
  tried: CublasAttempt[];
}

export interface DistEngines {
  mpi: EngineLibrary & { implementation: string | null };
  /** compiled: the build has CUDA (NCCL serves CUDA tensors only) */
  nccl: EngineLibrary & { compiled: boolean };
}

/** A sum started by distSumStart (an opaque native handle). */
export interface PendingSumHandle {
  readonly __pendingSumHandle: never;
}

function load(): NativeAddon {
  // A build elsewhere, by path (the CUDA emulator's build for its tests).
  const explicit = process.env.REPMLP_ADDON;
  if (explicit) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.resolve(explicit)) as NativeAddon;
  }
  // lib/ when run from source (tsx), dist/lib/ when compiled.
  const up1 = path.join(__dirname, '..');
  const root = fs.existsSync(path.join(up1, 'package.json')) ? up1 : path.join(up1, '..');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
    return nodeGypBuild(root);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new RepmlpError(
      `repmlp: could not load the native addon (${msg}). ` +
        `No prebuild matched this platform and no local build was found; run 'npm run build:native' (needs cmake and a C++17 compiler).`,
    );
  }
}

// A native error as a RepmlpError with the same message, its stack starting at the caller of
// `at`; RepmlpErrors and non-errors pass unchanged.
function asRepmlpError(e: unknown, at: Function): unknown {
  if (!(e instanceof Error) || e instanceof RepmlpError) return e;
  const err = new RepmlpError(e.message, { cause: e });
  Error.captureStackTrace(err, at);
  return err;
}

// fn behind one try/catch, called with the caller's `this` (a Storage for its methods).
function guarded<F extends Function>(fn: F): F {
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    try {
      return Reflect.apply(fn, this, args);
    } catch (e) {
      throw asRepmlpError(e, wrapper);
    }
  };
  return wrapper as unknown as F;
}

// A native class with its methods and getters wrapped. The addon's prototype cannot be
// changed (Node-API defines its members read-only), so the wrapped members sit on a
// prototype derived from it, and the constructor builds the native object with that
// prototype (new.target), as a JS subclass would: instanceof the addon's class still holds.
function guardedClass<C extends Function>(Native: C): C {
  const base = Native.prototype as object;
  const proto = Object.create(base) as object;
  for (const key of Object.getOwnPropertyNames(base)) {
    if (key === 'constructor') continue;
    const d = Object.getOwnPropertyDescriptor(base, key)!;
    if (typeof d.value === 'function') d.value = guarded(d.value);
    if (d.get) d.get = guarded(d.get);
    Object.defineProperty(proto, key, d);
  }
  const construct = function (this: unknown, ...args: unknown[]): object {
    try {
      // Called without new, the addon's constructor refuses the call itself.
      return new.target ? Reflect.construct(Native, args, construct) : Reflect.apply(Native, this, args);
    } catch (e) {
      throw asRepmlpError(e, construct);
    }
  };
  Object.defineProperty(proto, 'constructor', { value: construct });
  construct.prototype = proto;
  return construct as unknown as C;
}

// A class is a function whose prototype has members besides its constructor.
function isClass(f: Function): boolean {
  return typeof f.prototype === 'object' && f.prototype !== null && Object.getOwnPropertyNames(f.prototype).length > 1;
}

function withRepmlpErrors(addon: NativeAddon): NativeAddon {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(addon))
    out[name] = typeof value !== 'function' ? value : isClass(value) ? guardedClass(value) : guarded(value);
  return out as unknown as NativeAddon;
}

export const native: NativeAddon = withRepmlpErrors(load());

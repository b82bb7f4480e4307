// Loads the native addon (a prebuild from prebuilds/, else build/Release) through
// node-gyp-build and declares the kernels it exports. Kernel arguments follow the llm.c
// habit: outputs first, then saved buffers, then inputs, then sizes. Every tensor argument
// is a Storage holding contiguous data from element 0 unless an offset argument says otherwise.
import * as fs from 'node:fs';
import * as path from 'node:path';

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

export interface RuntimeInfo {
  threads: number;
  cudaCompiled: boolean;
  cudaDevices: number;
  cudaReason: string;
}

type S = NativeStorage;

export interface NativeAddon {
  Storage: new (device: Device, dtype: DType, numel: number) => NativeStorage;
  liveStorages(): LiveStorages;
  runtimeInfo(): RuntimeInfo;
  setNumThreads(n: number): number;

  // bias_grad.cc: dbias (C) = sum of dout (N, C, HW) over N and HW
  bias_grad(dbias: S, dout: S, N: number, C: number, HW: number): void;
  // copy.cc
  strided_copy(out: S, outOffset: number, inp: S, inpOffset: number, shape: number[], strides: number[]): void;
  fill(out: S, value: number, offset: number, n: number): void;
  // gemm.cc: for b < batch, C_b = alpha * opA(A_b) @ opB(B_b) + beta * C_b (row-major; see gemm.cc)
  gemm_strided_batched(
    C: S, A: S, B: S, M: number, N: number, K: number, batch: number, transA: boolean, transB: boolean,
    alpha: number, beta: number, offC: number, ldc: number, strideC: number, offA: number, lda: number,
    strideA: number, offB: number, ldb: number, strideB: number,
  ): void;
  // relu.cc
  relu_forward(out: S, inp: S, n: number): void;
  relu_backward(dinp: S, dout: S, out: S, n: number): void;
  // scale.cc
  axpy(out: S, x: S, alpha: number, n: number): void;
  scale(out: S, x: S, alpha: number, beta: number, n: number): void;
}

function load(): NativeAddon {
  // lib/ when run from source (tsx), dist/lib/ when compiled.
  const up1 = path.join(__dirname, '..');
  const root = fs.existsSync(path.join(up1, 'package.json')) ? up1 : path.join(up1, '..');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
    return nodeGypBuild(root);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `repmlp: could not load the native addon (${msg}). ` +
        `No prebuild matched this platform and no local build was found; run 'npm run build:native' (needs cmake and a C++17 compiler).`,
    );
  }
}

export const native: NativeAddon = load();

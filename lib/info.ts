// What this installation of repmlp can run on: the package version, the CPU backend and the
// CUDA backend (devices, driver, runtime, and the cuBLAS library found at run time).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, fail } from './errors';
import { native, type CpuIsa, type CublasInfo, type CudaDevice, type DistEngines } from './native';

export interface CudaBackendInfo {
  /** a CUDA device is usable (cuBLAS is reported separately: GEMMs need it) */
  available: boolean;
  /** why CUDA is not available; absent when it is */
  reason?: string;
  /** was the addon built with CUDA sources? */
  compiled: boolean;
  devices: CudaDevice[];
  /** "13.0"; null without a driver */
  driverVersion: string | null;
  /** the CUDA runtime linked into the addon; null when not compiled */
  runtimeVersion: string | null;
  cublas: CublasInfo;
}

export interface Info {
  version: string;
  backends: {
    /** isa: the CPU GEMM kernel's instruction set in effect; isaSupported: the best this CPU has */
    cpu: { available: true; threads: number; isa: CpuIsa; isaSupported: CpuIsa };
    cuda: CudaBackendInfo;
  };
  /** the engines of distributed training, opened at run time: MPI (CPU tensors), NCCL (CUDA tensors) */
  distributed: DistEngines;
}

let cachedVersion: string | undefined;

/** The version in package.json (lib/ from source, dist/lib/ when compiled). */
export function packageVersion(): string {
  if (cachedVersion === undefined) {
    const up1 = path.join(__dirname, '..');
    const root = fs.existsSync(path.join(up1, 'package.json')) ? up1 : path.join(up1, '..');
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: unknown };
    cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  }
  return cachedVersion;
}

/**
 * The version, the backends and the distributed engines. Asking looks for cuBLAS, MPI and
 * NCCL (opening the libraries needs no GPU and initialises nothing); see native/cuda/cublas.h,
 * native/dist/mpi.h and native/cuda/nccl.h for where they are looked for.
 */
export function info(): Info {
  const rt = native.runtimeInfo();
  const cu = native.cudaInfo();
  const available = cu.compiled && cu.devices.length > 0;
  const why = cu.reason ?? 'no CUDA device found';
  const cuda: CudaBackendInfo = {
    available,
    ...(available ? {} : { reason: cu.compiled ? `no usable CUDA device: ${why}` : why }),
    compiled: cu.compiled,
    devices: cu.devices,
    driverVersion: cu.driverVersion,
    runtimeVersion: cu.runtimeVersion,
    cublas: cu.cublas,
  };
  return { version: packageVersion(), backends: { cpu: { available: true, threads: rt.threads, isa: rt.cpuIsa, isaSupported: rt.cpuIsaSupported }, cuda }, distributed: native.distInfo() };
}

/**
 * Lets float32 GEMMs on CUDA use TF32 tensor cores (faster, about 10 bits of mantissa in
 * the products). Off by default, or on when REPMLP_TF32=1. Returns the setting now in
 * force (always false in builds without CUDA).
 */
export function setTf32(on: boolean): boolean {
  if (typeof on !== 'boolean') fail('setTf32', 'on', 'a boolean', describe(on));
  return native.setTf32(on);
}

/**
 * Sets the number of CPU threads the kernels use (1..1024; the default is the number of
 * hardware threads, or REPMLP_NUM_THREADS when set). Returns the number in effect.
 */
export function setNumThreads(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 1024) fail('setNumThreads', 'n', 'an integer in 1..1024', describe(n));
  return native.setNumThreads(n);
}

/**
 * Chooses the CPU GEMM's kernel: 'avx512' (the default on a CPU with AVX-512) or 'avx2' (also
 * REPMLP_CPU_ISA=avx2). Both sum every product in the same order: results agree to an ulp
 * (exactly, for a plain product); only speed differs. Asking for more than the CPU has is an error. Returns the one in effect.
 */
export function setCpuIsa(isa: 'avx512' | 'avx2'): CpuIsa {
  if (isa !== 'avx512' && isa !== 'avx2') fail('setCpuIsa', 'isa', "'avx512' or 'avx2'", describe(isa));
  return native.setCpuIsa(isa);
}

/** The CPU GEMM kernels this CPU can run, best first (['avx512', 'avx2'] on an AVX-512 CPU). */
export function cpuIsas(): CpuIsa[] {
  const best = native.runtimeInfo().cpuIsaSupported;
  return best === 'avx512' ? ['avx512', 'avx2'] : [best];
}

export { memoryStats, resetPeakMemoryStats, emptyCache, type MemStats } from './memory';

// The CUDA emulator's stand-in for <cuda_runtime.h>: enough of the runtime API and of the
// device-side language for native/cuda/*.cu to compile as C++ and run on the CPU (see
// ../README.md). Kernel launches `k<<<grid, block, smem, stream>>>(args)` are rewritten by
// rewrite.cmake into
//   k ^ cuda_emu::launch_config(__FILE__, __LINE__, grid, block, smem, stream) ^ cuda_emu::launch_args(args)
// which the operators below turn into a call of cuda_emu::launch (the file and line name the
// launch in the emulator's errors).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- device-side qualifiers ----
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __launch_bounds__(...)
// Blocks run one after another on one OS thread, so a static variable is one block's shared
// memory. They all lie in one section, which the runtime fills with 0xFF bytes (NaN floats)
// before each block: a block's shared memory starts undefined on a GPU.
#define __shared__ static __attribute__((section("cuda_emu_shared")))

// ---- types ----
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidSymbol = 13,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
};
typedef cudaError_t cudaError;

enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

struct CUstream_st;
typedef CUstream_st* cudaStream_t;

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor;
  int multiProcessorCount;
  int maxThreadsPerBlock;
  int warpSize;
};

// ---- the runtime API (api.cc, memory.cc) ----
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaMalloc(void** p, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = 0);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream = 0);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
// Launches run as they are made: a stream has always finished its work.
cudaError_t cudaStreamQuery(cudaStream_t stream);

namespace cuda_emu {
// The bytes of a __device__ variable (a host global here), for the symbol copies.
cudaError_t symbol_copy(void* dst, const void* src, size_t bytes);
}  // namespace cuda_emu

template <typename T>
cudaError_t cudaMemcpyToSymbolAsync(T& symbol, const void* src, size_t bytes, size_t offset = 0,
                                    cudaMemcpyKind = cudaMemcpyHostToDevice, cudaStream_t = 0) {
  if (offset + bytes > sizeof(T)) return cudaErrorInvalidValue;
  return cuda_emu::symbol_copy(reinterpret_cast<char*>(&symbol) + offset, src, bytes);
}
template <typename T>
cudaError_t cudaMemcpyToSymbol(T& symbol, const void* src, size_t bytes, size_t offset = 0,
                               cudaMemcpyKind kind = cudaMemcpyHostToDevice) {
  return cudaMemcpyToSymbolAsync(symbol, src, bytes, offset, kind);
}
template <typename T>
cudaError_t cudaMemcpyFromSymbol(void* dst, const T& symbol, size_t bytes, size_t offset = 0,
                                 cudaMemcpyKind = cudaMemcpyDeviceToHost) {
  if (offset + bytes > sizeof(T)) return cudaErrorInvalidValue;
  return cuda_emu::symbol_copy(dst, reinterpret_cast<const char*>(&symbol) + offset, bytes);
}

// ---- the thread that runs, and block-level synchronisation (launch.cc) ----
namespace cuda_emu {

struct ThreadCtx {
  uint3 thread_idx, block_idx;
  dim3 block_dim, grid_dim;
};
// The emulated thread now running (one launch runs at a time, on one OS thread).
extern const ThreadCtx* g_ctx;

void sync_block();
// Every lane named in mask exchanges `bits`; returns the bits of lane src (the caller's own
// when src is outside the warp or names a lane that does not take part).
uint64_t sync_warp_exchange(unsigned mask, uint64_t bits, int src);

template <typename T>
T shuffle(unsigned mask, T v, int src) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle: 8-byte values at most");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = sync_warp_exchange(mask, bits, src);
  T r;
  std::memcpy(&r, &bits, sizeof(T));
  return r;
}

}  // namespace cuda_emu

#define threadIdx (::cuda_emu::g_ctx->thread_idx)
#define blockIdx (::cuda_emu::g_ctx->block_idx)
#define blockDim (::cuda_emu::g_ctx->block_dim)
#define gridDim (::cuda_emu::g_ctx->grid_dim)
constexpr int warpSize = 32;

inline void __syncthreads() { ::cuda_emu::sync_block(); }

inline int cuda_emu_lane() {
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  return static_cast<int>(t & 31);
}
template <typename T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  const int lane = cuda_emu_lane();
  return ::cuda_emu::shuffle(mask, v, (lane & ~(width - 1)) + (src & (width - 1)));
}
template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = cuda_emu_lane(), in = lane & (width - 1);
  return ::cuda_emu::shuffle(mask, v, in + static_cast<int>(delta) < width ? lane + static_cast<int>(delta) : lane);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = cuda_emu_lane(), in = lane & (width - 1);
  return ::cuda_emu::shuffle(mask, v, in >= static_cast<int>(delta) ? lane - static_cast<int>(delta) : lane);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int lane = cuda_emu_lane(), src = lane ^ lane_mask;
  return ::cuda_emu::shuffle(mask, v, (src & ~(width - 1)) == (lane & ~(width - 1)) ? src : lane);
}

// Atomics: the emulated threads never run at the same time, so plain read-modify-writes.
template <typename T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
template <typename T>
T atomicMin(T* p, T v) {
  const T old = *p;
  *p = v < old ? v : old;
  return old;
}
template <typename T>
T atomicMax(T* p, T v) {
  const T old = *p;
  *p = v > old ? v : old;
  return old;
}

// CUDA's integer min / max overloads and the float intrinsics the kernels use.
template <typename A, typename B>
auto min(A a, B b) -> typename std::common_type<A, B>::type {
  return b < a ? b : a;
}
template <typename A, typename B>
auto max(A a, B b) -> typename std::common_type<A, B>::type {
  return a < b ? b : a;
}
using std::isfinite;
using std::isinf;
using std::isnan;
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }

// ---- launches ----
// A kernel as a callable that deduces template arguments from the launch's arguments.
#define CUDA_EMU_KERNEL(...) [](auto... cuda_emu_a) { __VA_ARGS__(cuda_emu_a...); }

namespace cuda_emu {

struct LaunchConfig {
  const char* file;
  int line;
  dim3 grid, block;
  size_t shared_bytes;
  cudaStream_t stream;
};
inline LaunchConfig launch_config(const char* file, int line, dim3 grid, dim3 block, size_t shared_bytes = 0,
                                  cudaStream_t stream = 0) {
  return {file, line, grid, block, shared_bytes, stream};
}

// Runs body(thread) for every thread of the grid (launch.cc); records a launch error for
// cudaGetLastError when the configuration is invalid or a block cannot finish.
void launch(const LaunchConfig& cfg, void (*body)(void* state), void* state);

template <typename K>
struct BoundKernel {
  K kernel;
  LaunchConfig cfg;
};
template <typename K>
BoundKernel<K> operator^(K kernel, const LaunchConfig& cfg) {
  return {kernel, cfg};
}

template <typename... A>
std::tuple<typename std::decay<A>::type...> launch_args(A&&... a) {
  return std::tuple<typename std::decay<A>::type...>(std::forward<A>(a)...);
}

// The launch's arguments are evaluated once, as on a GPU; each emulated thread passes its own
// copies to the kernel.
template <typename K, typename... A>
void operator^(const BoundKernel<K>& k, std::tuple<A...>&& args) {
  struct State {
    K kernel;
    std::tuple<A...> args;
  } state{k.kernel, std::move(args)};
  launch(
      k.cfg,
      [](void* s) {
        auto* st = static_cast<State*>(s);
        std::apply(st->kernel, st->args);
      },
      &state);
}

}  // namespace cuda_emu

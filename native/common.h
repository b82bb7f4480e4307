// Shared types of the native side: dtypes, devices, storage, and the error type every
// kernel throws. Every C++ exception that reaches Node-API becomes a JS exception
// (NODE_ADDON_API_CPP_EXCEPTIONS_ALL); nothing here ever aborts the process.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace repmlp {

enum class DType : int { F32 = 0, I64 = 1 };
enum class Device : int { CPU = 0, CUDA = 1 };
// An activation applied in the same pass as another op's output (functors in ops/unary.h); the
// codes are part of the binding interface. BatchNorm takes the first three, the fused GEMM all.
enum class Act : int { None = 0, ReLU = 1, GELU = 2, Sigmoid = 3 };

// Declares the kernels given, once in namespace cpu and once in namespace cuda (ops/<op>.h):
// a CPU kernel and its CUDA twin share one signature. Both are defined with qualified names
// (`void cpu::bias_grad(...) {...}` in ops/<op>.cc, `void cuda::bias_grad(...)` in
// cuda/<op>.cu), so a definition that differs from its declaration does not compile.
#define REPMLP_KERNELS(...)     \
  namespace repmlp {            \
  namespace cpu { __VA_ARGS__ } \
  namespace cuda { __VA_ARGS__ } \
  }

inline const char* dtype_name(DType d) { return d == DType::F32 ? "float32" : "int64"; }
inline size_t dtype_size(DType d) { return d == DType::F32 ? 4 : 8; }
inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// A flat allocation on one device. Views (shape, strides, offset) live in TypeScript.
struct Storage {
  void* ptr = nullptr;
  int64_t numel = 0;
  DType dtype = DType::F32;
  Device device = Device::CPU;
  size_t bytes() const { return static_cast<size_t>(numel) * dtype_size(dtype); }
};

// The error every native check throws; the message is surfaced unchanged to JS.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Counters of live storages, read by leak tests through `liveStorages()`.
struct LiveCounts {
  int64_t cpu_buffers = 0, cpu_bytes = 0, cuda_buffers = 0, cuda_bytes = 0;
};
LiveCounts& live_counts();

}  // namespace repmlp

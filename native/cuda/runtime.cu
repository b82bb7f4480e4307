// CUDA device queries and copies (the CUDA half of device.h; the allocator is in
// allocator.cu). cudart is linked statically, so these calls work (and report "no driver")
// on machines without CUDA.
#include <cuda_runtime.h>

#include "../device.h"
#include "check.cuh"

namespace repmlp::cuda {

bool compiled() { return true; }

int device_count(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the error so later queries are not poisoned
    if (why) {
      int driver = 0, runtime = 0;
      cudaDriverGetVersion(&driver);
      cudaRuntimeGetVersion(&runtime);
      cudaGetLastError();
      auto ver = [](int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); };
      if (e == cudaErrorInsufficientDriver && driver == 0)
        *why = "no NVIDIA driver found (libcuda.so.1 could not be loaded)";
      else if (e == cudaErrorInsufficientDriver)
        *why = "the NVIDIA driver supports CUDA " + ver(driver) + " but this build of repmlp needs CUDA " + ver(runtime) +
               " or newer: update the driver";
      else
        *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    }
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device found";
  return n;
}

void set_device(int d) { REPMLP_CUDA_CHECK(cudaSetDevice(d)); }

void memcpy_d2h(void* dst, const void* src, size_t bytes) { REPMLP_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost)); }
void memcpy_h2d(void* dst, const void* src, size_t bytes) { REPMLP_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice)); }
void memcpy_d2d(void* dst, const void* src, size_t bytes) {
  REPMLP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0));
}
void memset_bytes(void* p, int value, size_t bytes) { REPMLP_CUDA_CHECK(cudaMemsetAsync(p, value, bytes, 0)); }
void synchronize() { REPMLP_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace repmlp::cuda

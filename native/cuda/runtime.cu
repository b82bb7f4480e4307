// CUDA memory and device queries (the CUDA half of device.h). cudart is linked
// statically, so these calls work (and report "no driver") on machines without CUDA.
#include <cuda_runtime.h>

#include "../device.h"
#include "check.cuh"

namespace repmlp::cuda {

bool compiled() { return true; }

int device_count(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error so later queries are not poisoned
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device found";
  return n;
}

void* malloc(size_t bytes) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess && e != cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw Error(std::string("cannot allocate on cuda: ") + cudaGetErrorString(e) +
                " (run `repmlp info` to see whether a CUDA device is usable)");
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw Error("CUDA out of memory: asked for " + std::to_string(bytes) + " bytes with " +
                std::to_string(free_b) + " of " + std::to_string(total_b) + " bytes free (" + cudaGetErrorString(e) + ")");
  }
  return p;
}

void free(void* p) {
  if (p) cudaFree(p);
}

void memcpy_d2h(void* dst, const void* src, size_t bytes) { REPMLP_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost)); }
void memcpy_h2d(void* dst, const void* src, size_t bytes) { REPMLP_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice)); }
void memset_zero(void* p, size_t bytes) { REPMLP_CUDA_CHECK(cudaMemset(p, 0, bytes)); }

}  // namespace repmlp::cuda

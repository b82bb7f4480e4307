// Error checking and launch helpers shared by the CUDA kernels.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "../common.h"

namespace repmlp::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(std::string(what) + ": " + cudaGetErrorString(e));
  }
}
#define REPMLP_CUDA_CHECK(call) ::repmlp::cuda::check((call), #call)
#define REPMLP_CUDA_LAUNCHED(name) ::repmlp::cuda::check(cudaGetLastError(), name)

inline unsigned blocks_for(int64_t n, int threads = 256) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b > 65535 * 8 ? 65535 * 8 : (b < 1 ? 1 : b));
}

}  // namespace repmlp::cuda

// CUDA twin of ops/scale.cc.
#include "../ops/scale.h"
#include "check.cuh"

namespace repmlp {
namespace cuda {

// out, x: (n)
__global__ void axpy_kernel(float* out, const float* x, float alpha, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] += alpha * x[i];
}

// out, x: (n)
__global__ void scale_kernel(float* out, const float* x, float alpha, float beta, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = alpha * x[i] + beta;
}

}  // namespace cuda

void cuda::axpy(float* out, const float* x, float alpha, int64_t n) {
  if (n == 0) return;
  axpy_kernel<<<blocks_for(n), 256>>>(out, x, alpha, n);
  REPMLP_CUDA_LAUNCHED("axpy");
}

void cuda::scale(float* out, const float* x, float alpha, float beta, int64_t n) {
  if (n == 0) return;
  scale_kernel<<<blocks_for(n), 256>>>(out, x, alpha, beta, n);
  REPMLP_CUDA_LAUNCHED("scale");
}

}  // namespace repmlp

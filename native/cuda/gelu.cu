// CUDA twin of ops/gelu.cc: exact GELU, out = x * Phi(x) with Phi(x) = 0.5 * erfc(-x / sqrt(2)).
#include "check.cuh"
#include "kernels.h"

namespace repmlp::cuda {

constexpr float kSqrtHalf = 0.70710678118654752440f;   // 1 / sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;  // 1 / sqrt(2 pi)

// out, inp: (n)
__global__ void gelu_forward_kernel(float* out, const float* inp, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float x = inp[i];
    out[i] = x * 0.5f * erfcf(-x * kSqrtHalf);
  }
}

// dinp, dout, inp: (n); inp is the saved forward input.
__global__ void gelu_backward_kernel(float* dinp, const float* dout, const float* inp, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float x = inp[i];
    const float cdf = 0.5f * erfcf(-x * kSqrtHalf);
    const float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
    dinp[i] = dout[i] * (cdf + x * pdf);
  }
}

void gelu_forward(float* out, const float* inp, int64_t n) {
  if (n == 0) return;
  gelu_forward_kernel<<<blocks_for(n), 256>>>(out, inp, n);
  REPMLP_CUDA_LAUNCHED("gelu_forward");
}

void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  if (n == 0) return;
  gelu_backward_kernel<<<blocks_for(n), 256>>>(dinp, dout, inp, n);
  REPMLP_CUDA_LAUNCHED("gelu_backward");
}

}  // namespace repmlp::cuda

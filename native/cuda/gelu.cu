// CUDA twin of ops/gelu.cc: exact GELU, out = x * Phi(x) with Phi(x) = 0.5 * erfc(-x / sqrt(2)).
#include "activation.cuh"
#include "check.cuh"
#include "kernels.h"

namespace repmlp::cuda {

// out, inp: (n)
__global__ void gelu_forward_kernel(float* out, const float* inp, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    out[i] = gelu_f(inp[i]);
  }
}

// dinp, dout, inp: (n); inp is the saved forward input.
__global__ void gelu_backward_kernel(float* dinp, const float* dout, const float* inp, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    dinp[i] = dout[i] * gelu_grad_f(inp[i]);
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

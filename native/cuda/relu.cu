// CUDA twin of ops/relu.cc.
#include "activation.cuh"
#include "check.cuh"
#include "kernels.h"

namespace repmlp::cuda {

// out, inp: (n)
__global__ void relu_forward_kernel(float* out, const float* inp, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = relu_f(inp[i]);
}

// dinp, dout, out: (n)
__global__ void relu_backward_kernel(float* dinp, const float* dout, const float* out, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dinp[i] = relu_grad_f(out[i], dout[i]);
}

void relu_forward(float* out, const float* inp, int64_t n) {
  if (n == 0) return;
  relu_forward_kernel<<<blocks_for(n), 256>>>(out, inp, n);
  REPMLP_CUDA_LAUNCHED("relu_forward");
}

void relu_backward(float* dinp, const float* dout, const float* out, int64_t n) {
  if (n == 0) return;
  relu_backward_kernel<<<blocks_for(n), 256>>>(dinp, dout, out, n);
  REPMLP_CUDA_LAUNCHED("relu_backward");
}

}  // namespace repmlp::cuda

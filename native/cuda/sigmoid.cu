// CUDA twin of ops/sigmoid.cc.
#include "check.cuh"
#include "kernels.h"

namespace repmlp::cuda {

// out, inp: (n)
__global__ void sigmoid_forward_kernel(float* out, const float* inp, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float x = inp[i];
    const float z = expf(-fabsf(x));  // in (0, 1]: never overflows
    out[i] = x >= 0.f ? 1.f / (1.f + z) : z / (1.f + z);
  }
}

// dinp, dout, out: (n); out is the saved forward output.
__global__ void sigmoid_backward_kernel(float* dinp, const float* dout, const float* out, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dinp[i] = dout[i] * out[i] * (1.f - out[i]);
}

void sigmoid_forward(float* out, const float* inp, int64_t n) {
  if (n == 0) return;
  sigmoid_forward_kernel<<<blocks_for(n), 256>>>(out, inp, n);
  REPMLP_CUDA_LAUNCHED("sigmoid_forward");
}

void sigmoid_backward(float* dinp, const float* dout, const float* out, int64_t n) {
  if (n == 0) return;
  sigmoid_backward_kernel<<<blocks_for(n), 256>>>(dinp, dout, out, n);
  REPMLP_CUDA_LAUNCHED("sigmoid_backward");
}

}  // namespace repmlp::cuda

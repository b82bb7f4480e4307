// CUDA twin of ops/bias_grad.cc: one block per channel (grid-stride over channels), each
// thread sums a strided share of the N*HW elements in double, then a deterministic block sum.
#include "block_reduce.cuh"
#include "../ops/bias_grad.h"
#include "check.cuh"

namespace repmlp {
namespace cuda {

constexpr int kBiasGradThreads = 256;

// dbias: (C); dout: (N, C, HW)
__global__ void bias_grad_kernel(float* dbias, const float* dout, int64_t N, int64_t C, int64_t HW) {
  const int64_t count = N * HW;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
      const int64_t n = i / HW, p = i - n * HW;
      s += dout[(n * C + c) * HW + p];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) dbias[c] = static_cast<float>(s);
  }
}

}  // namespace cuda

void cuda::bias_grad(float* dbias, const float* dout, int64_t N, int64_t C, int64_t HW) {
  if (C == 0) return;
  const unsigned blocks = static_cast<unsigned>(C < 65535 * 8 ? C : 65535 * 8);
  bias_grad_kernel<<<blocks, kBiasGradThreads>>>(dbias, dout, N, C, HW);
  REPMLP_CUDA_LAUNCHED("bias_grad");
}

}  // namespace repmlp

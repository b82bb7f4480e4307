// CUDA twin of ops/unary.cc: one grid-stride kernel pair for every functor of unary.h.
#include "../ops/unary.h"
#include "check.cuh"

namespace repmlp {
namespace cuda {

// out, inp: (n)
template <typename F>
__global__ void unary_forward_kernel(float* out, const float* inp, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = F::forward(inp[i]);
}

// dinp, dout, saved: (n)
template <typename F>
__global__ void unary_backward_kernel(float* dinp, const float* dout, const float* saved, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dinp[i] = F::backward(saved[i], dout[i]);
}

}  // namespace cuda

template <typename F>
void cuda::unary_forward(float* out, const float* inp, int64_t n) {
  if (n == 0) return;
  unary_forward_kernel<F><<<blocks_for(n), 256>>>(out, inp, n);
  REPMLP_CUDA_LAUNCHED(F::name);
}

template <typename F>
void cuda::unary_backward(float* dinp, const float* dout, const float* saved, int64_t n) {
  if (n == 0) return;
  unary_backward_kernel<F><<<blocks_for(n), 256>>>(dinp, dout, saved, n);
  REPMLP_CUDA_LAUNCHED(F::name);
}

#define REPMLP_UNARY_INSTANTIATE(F)                                     \
  template void cuda::unary_forward<F>(float*, const float*, int64_t); \
  template void cuda::unary_backward<F>(float*, const float*, const float*, int64_t);
REPMLP_UNARY_OPS(REPMLP_UNARY_INSTANTIATE)
#undef REPMLP_UNARY_INSTANTIATE

}  // namespace repmlp

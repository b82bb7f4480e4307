// CUDA twins of ops/copy.cc: strided_copy (views -> contiguous) and fill.
#include <algorithm>

#include "../ops/copy.h"
#include "check.cuh"

namespace repmlp {
namespace cuda {

// A strided view of at most 8 dimensions, innermost first.
template <typename I>
struct ViewDims {
  int nd;
  I shape[8], strides[8];
};

// out: (n) contiguous over v.shape; inp: the strided view v. I is uint32_t whenever every
// index fits (64-bit division is many instructions on a GPU), else int64_t. The dimension
// loop is unrolled so that v is read from the kernel's parameters: a loop over a run-time
// index makes nvcc copy v to local memory (a stack frame per thread).
template <typename T, typename I>
__global__ void strided_copy_kernel(T* out, const T* inp, ViewDims<I> v, I n) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I rem = i, off = 0;
#pragma unroll
    for (int d = 0; d < 8; ++d) {
      if (d == v.nd) break;
      const I q = rem / v.shape[d];
      off += (rem - q * v.shape[d]) * v.strides[d];
      rem = q;
    }
    out[i] = inp[off];
  }
}

template <typename T, typename I>
static void launch_strided_copy(T* out, const T* inp, const std::vector<int64_t>& shape,
                                const std::vector<int64_t>& strides, int64_t n) {
  const int nd = static_cast<int>(shape.size());
  ViewDims<I> v{nd, {}, {}};
  for (int d = 0; d < nd; ++d)
    v.shape[d] = static_cast<I>(shape[nd - 1 - d]), v.strides[d] = static_cast<I>(strides[nd - 1 - d]);
  strided_copy_kernel<T, I><<<blocks_for(n), 256>>>(out, inp, v, static_cast<I>(n));
}

template <typename T>
static void strided_copy(T* out, const T* inp, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  int64_t n = 1, extent = 1;
  bool non_negative = true;
  for (size_t d = 0; d < shape.size(); ++d) {
    n *= shape[d];
    if (shape[d] > 0) extent += (shape[d] - 1) * strides[d];
    non_negative = non_negative && strides[d] >= 0;
  }
  if (n == 0) return;
  // 32-bit indices when the output, the input's extent and a grid-stride step all fit.
  if (non_negative && std::max(n, extent) < (int64_t(1) << 30)) launch_strided_copy<T, uint32_t>(out, inp, shape, strides, n);
  else launch_strided_copy<T, int64_t>(out, inp, shape, strides, n);
  REPMLP_CUDA_LAUNCHED("strided_copy");
}

}  // namespace cuda

void cuda::strided_copy_f32(float* out, const float* inp, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  strided_copy(out, inp, shape, strides);
}
void cuda::strided_copy_i64(int64_t* out, const int64_t* inp, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  strided_copy(out, inp, shape, strides);
}

namespace cuda {

template <typename T>
__global__ void fill_kernel(T* out, T value, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) out[i] = value;
}

}  // namespace cuda

void cuda::fill_f32(float* out, float value, int64_t n) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), 256>>>(out, value, n);
  REPMLP_CUDA_LAUNCHED("fill");
}
void cuda::fill_i64(int64_t* out, int64_t value, int64_t n) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), 256>>>(out, value, n);
  REPMLP_CUDA_LAUNCHED("fill");
}

}  // namespace repmlp

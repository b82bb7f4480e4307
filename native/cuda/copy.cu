// CUDA twins of ops/copy.cc: strided_copy (views -> contiguous) and fill.
#include "check.cuh"
#include "kernels.h"

namespace repmlp::cuda {

struct ViewDims {
  int nd;
  int64_t shape[8], strides[8];
};

template <typename T>
__global__ void strided_copy_kernel(T* out, const T* inp, ViewDims v, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t rem = i, off = 0;
    for (int d = v.nd - 1; d >= 0; --d) {
      off += (rem % v.shape[d]) * v.strides[d];
      rem /= v.shape[d];
    }
    out[i] = inp[off];
  }
}

template <typename T>
static void strided_copy(T* out, const T* inp, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  ViewDims v{static_cast<int>(shape.size()), {}, {}};
  int64_t n = 1;
  for (int d = 0; d < v.nd; ++d) v.shape[d] = shape[d], v.strides[d] = strides[d], n *= shape[d];
  if (n == 0) return;
  strided_copy_kernel<<<blocks_for(n), 256>>>(out, inp, v, n);
  REPMLP_CUDA_LAUNCHED("strided_copy");
}

void strided_copy_f32(float* out, const float* inp, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  strided_copy(out, inp, shape, strides);
}
void strided_copy_i64(int64_t* out, const int64_t* inp, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  strided_copy(out, inp, shape, strides);
}

template <typename T>
__global__ void fill_kernel(T* out, T value, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) out[i] = value;
}

void fill_f32(float* out, float value, int64_t n) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), 256>>>(out, value, n);
  REPMLP_CUDA_LAUNCHED("fill");
}
void fill_i64(int64_t* out, int64_t value, int64_t n) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), 256>>>(out, value, n);
  REPMLP_CUDA_LAUNCHED("fill");
}

}  // namespace repmlp::cuda

// CUDA twin of ops/binary.cc: broadcasting add / sub / mul over the same coalesced
// dimensions (ops/broadcast.h). Same-shape operands take a flat kernel; everything else
// (a per-channel operand included) decodes each output index over at most 8 dimensions,
// in 32-bit arithmetic whenever every index fits.
#include <algorithm>

#include "../ops/broadcast.h"
#include "../ops/binary.h"
#include "check.cuh"

namespace repmlp {
namespace cuda {

template <int OP>
__device__ __forceinline__ float apply(float x, float y) {
  if constexpr (OP == static_cast<int>(BinaryOp::Add)) return x + y;
  else if constexpr (OP == static_cast<int>(BinaryOp::Sub)) return x - y;
  else return x * y;
}

// Coalesced dimensions (at most 8), innermost first.
template <typename I>
struct BinaryDims {
  int nd;
  I shape[8], a_strides[8], b_strides[8];
};

// out, a, b: (n), all contiguous
template <int OP>
__global__ void binary_flat_kernel(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = apply<OP>(a[i], b[i]);
}

// out: (n) contiguous over d.shape; a, b: strided views of d.shape. The dimension loop is
// unrolled so that d is read from the kernel's parameters (a run-time index would make nvcc
// copy it to local memory).
template <int OP, typename I>
__global__ void binary_strided_kernel(float* out, const float* a, const float* b, BinaryDims<I> d, I n) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I rem = i, oa = 0, ob = 0;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      if (k == d.nd) break;
      const I q = rem / d.shape[k], j = rem - q * d.shape[k];
      oa += j * d.a_strides[k];
      ob += j * d.b_strides[k];
      rem = q;
    }
    out[i] = apply<OP>(a[oa], b[ob]);
  }
}

template <int OP, typename I>
static void launch_strided(float* out, const float* a, const float* b, const BinaryPlan& p) {
  const int nd = static_cast<int>(p.shape.size());
  BinaryDims<I> d{nd, {}, {}, {}};
  for (int k = 0; k < nd; ++k)
    d.shape[k] = static_cast<I>(p.shape[nd - 1 - k]), d.a_strides[k] = static_cast<I>(p.a_strides[nd - 1 - k]),
    d.b_strides[k] = static_cast<I>(p.b_strides[nd - 1 - k]);
  binary_strided_kernel<OP, I><<<blocks_for(p.numel), 256>>>(out, a, b, d, static_cast<I>(p.numel));
}

template <int OP>
static void launch(float* out, const float* a, const float* b, const BinaryPlan& p) {
  if (p.shape.size() == 1 && p.a_strides[0] == 1 && p.b_strides[0] == 1) {
    binary_flat_kernel<OP><<<blocks_for(p.numel), 256>>>(out, a, b, p.numel);
    return;
  }
  // 32-bit indices when the output and both operands' extents (and a grid stride step) fit.
  int64_t ea = 1, eb = 1;
  for (size_t k = 0; k < p.shape.size(); ++k) ea += (p.shape[k] - 1) * p.a_strides[k], eb += (p.shape[k] - 1) * p.b_strides[k];
  if (std::max(p.numel, std::max(ea, eb)) < (int64_t(1) << 30)) launch_strided<OP, uint32_t>(out, a, b, p);
  else launch_strided<OP, int64_t>(out, a, b, p);
}

}  // namespace cuda

void cuda::binary_forward(float* out, const float* a, const float* b, BinaryOp op, const std::vector<int64_t>& shape,
                          const std::vector<int64_t>& a_strides, const std::vector<int64_t>& b_strides) {
  const BinaryPlan p = plan_binary(shape, a_strides, b_strides);
  if (p.numel == 0) return;
  switch (op) {
    case BinaryOp::Add: launch<static_cast<int>(BinaryOp::Add)>(out, a, b, p); break;
    case BinaryOp::Sub: launch<static_cast<int>(BinaryOp::Sub)>(out, a, b, p); break;
    case BinaryOp::Mul: launch<static_cast<int>(BinaryOp::Mul)>(out, a, b, p); break;
    default: throw Error("binary_forward: unknown op " + std::to_string(static_cast<int>(op)));
  }
  REPMLP_CUDA_LAUNCHED("binary_forward");
}

}  // namespace repmlp

// CUDA twin of ops/unpartition_gate.cc: out = unpartition(y) * gate (+ residual) in one pass,
// and its backward, dy = dout * gate with dgate = the plane sums of dout * y, in one more.
// Index math in int whenever every index fits; with one partition per map (the presets) y
// and out share their layout and no index is decoded.
#include <algorithm>
#include <type_traits>

#include "block_reduce.cuh"
#include "../ops/unpartition_gate.h"
#include "check.cuh"

namespace repmlp {
namespace cuda {

// A map of C channels cut into Hp x Wp partitions of h x w; W = Wp * w, hw = h * w,
// plane = Hp * h * W (the elements of one (n, c) plane).
template <typename I>
struct Parts {
  I C, Hp, h, Wp, w, W, hw, plane;
};

// The offset in y (N*Hp*Wp, C, h, w) of element e = row * W + col of plane t = n * C + c.
template <bool kSame, typename I>
__device__ __forceinline__ I y_offset(const Parts<I>& p, I t, I e) {
  if constexpr (kSame) return t * p.plane + e;
  const I n = t / p.C, c = t - n * p.C;
  const I row = e / p.W, col = e - row * p.W;
  const I hp = row / p.h, i = row - hp * p.h, wp = col / p.w, j = col - wp * p.w;
  return (((n * p.Hp + hp) * p.Wp + wp) * p.C + c) * p.hw + i * p.w + j;
}

// The kernels take `Same`, std::true_type when y and out share their layout (one partition per
// map), else std::false_type, as their last argument.

// out, residual: (N, C, Hp*h, W); y: (N*Hp*Wp, C, h, w); gate: (N*C); residual may be null
template <typename I, typename Same>
__global__ void unpartition_gate_forward_kernel(float* out, const float* y, const float* gate, const float* residual,
                                                Parts<I> p, I numel, Same) {
  for (I idx = blockIdx.x * (I)blockDim.x + threadIdx.x; idx < numel; idx += (I)gridDim.x * blockDim.x) {
    const I t = idx / p.plane;
    const float v = y[y_offset<Same::value>(p, t, idx - t * p.plane)] * gate[t];
    out[idx] = residual ? v + residual[idx] : v;
  }
}

// The part of plane t's backward done by a thread that is number `first` of `step` working on
// it: writes dy for every step-th element from its first, returns its share of dgate[t].
template <bool kSame, typename I>
__device__ __forceinline__ double plane_backward(float* dy, const float* dout, const float* y, const float* gate,
                                                 const Parts<I>& p, I t, I first, I step) {
  const float g = gate[t];
  const float* d = dout + t * p.plane;
  double acc = 0.0;
  for (I e = first; e < p.plane; e += step) {
    const I yo = y_offset<kSame>(p, t, e);
    dy[yo] = d[e] * g;
    acc += static_cast<double>(d[e]) * static_cast<double>(y[yo]);
  }
  return acc;
}

// One block per plane (planes of more than kWarpPlaneMax elements).
template <typename I, typename Same>
__global__ void unpartition_gate_backward_kernel(float* dy, float* dgate, const float* dout, const float* y,
                                                 const float* gate, Parts<I> p, I planes, Same) {
  for (I t = blockIdx.x; t < planes; t += gridDim.x) {
    const double acc = block_sum(plane_backward<Same::value>(dy, dout, y, gate, p, t, (I)threadIdx.x, (I)blockDim.x));
    if (threadIdx.x == 0) dgate[t] = static_cast<float>(acc);
  }
}

// One warp per plane (small planes, such as the 4x4 to 16x16 maps of `small`).
template <typename I, typename Same>
__global__ void unpartition_gate_backward_warp_kernel(float* dy, float* dgate, const float* dout, const float* y,
                                                      const float* gate, Parts<I> p, I planes, Same) {
  const I lane = threadIdx.x & 31, warps = (I)gridDim.x * (blockDim.x >> 5);
  for (I t = (blockIdx.x * (I)blockDim.x + threadIdx.x) >> 5; t < planes; t += warps) {
    const double acc = warp_sum(plane_backward<Same::value>(dy, dout, y, gate, p, t, lane, (I)32));
    if (lane == 0) dgate[t] = static_cast<float>(acc);
  }
}

namespace {

constexpr int kThreads = 256;
constexpr int64_t kWarpPlaneMax = 1024;

// Calls f(parts, numel, planes, same) in int when every index (and a grid-stride step past the
// end) fits, else in int64_t; `same` is an integral constant, true with one partition per map.
template <typename F>
void with_parts(int64_t N, int64_t C, int64_t Hp, int64_t h, int64_t Wp, int64_t w, F&& f) {
  const int64_t W = Wp * w, plane = Hp * h * W, numel = N * C * plane;
  auto run = [&](auto zero) {
    using I = decltype(zero);
    const Parts<I> p{(I)C, (I)Hp, (I)h, (I)Wp, (I)w, (I)W, (I)(h * w), (I)plane};
    if (Hp == 1 && Wp == 1) f(p, (I)numel, (I)(N * C), std::true_type{});
    else f(p, (I)numel, (I)(N * C), std::false_type{});
  };
  if (numel < (int64_t(1) << 30)) run(int(0));
  else run(int64_t(0));
}

}  // namespace

}  // namespace cuda

void cuda::unpartition_gate_forward(float* out, const float* y, const float* gate, const float* residual,
                                    const PartitionShape& s) {
  const auto N = s.N, C = s.C, Hp = s.Hp, h = s.h, Wp = s.Wp, w = s.w;
  with_parts(N, C, Hp, h, Wp, w, [&](auto p, auto numel, auto, auto same) {
    if (numel == 0) return;
    unpartition_gate_forward_kernel<<<blocks_for(numel, kThreads), kThreads>>>(out, y, gate, residual, p, numel, same);
    REPMLP_CUDA_LAUNCHED("unpartition_gate_forward");
  });
}

void cuda::unpartition_gate_backward(float* dy, float* dgate, const float* dout, const float* y, const float* gate,
                                     const PartitionShape& s) {
  const auto N = s.N, C = s.C, Hp = s.Hp, h = s.h, Wp = s.Wp, w = s.w;
  with_parts(N, C, Hp, h, Wp, w, [&](auto p, auto, auto planes, auto same) {
    if (planes == 0) return;
    const int64_t grid_limit = 65535 * 8;
    if (p.plane <= kWarpPlaneMax) {
      const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((planes + 7) / 8, grid_limit));
      unpartition_gate_backward_warp_kernel<<<blocks, kThreads>>>(dy, dgate, dout, y, gate, p, planes, same);
    } else {
      const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(planes, grid_limit));
      unpartition_gate_backward_kernel<<<blocks, kThreads>>>(dy, dgate, dout, y, gate, p, planes, same);
    }
    REPMLP_CUDA_LAUNCHED("unpartition_gate_backward");
  });
}

}  // namespace repmlp

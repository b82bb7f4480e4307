// The maxpool2d kernels, declared once for the CPU (ops/maxpool.cc) and for CUDA (cuda/maxpool.cu).
#pragma once
#include <cstdint>

#include "../common.h"

namespace repmlp {

// Max pooling of `planes` (N * C) maps of H x W into Ho x Wo windows of kh x kw, strides
// stride_h, stride_w, implicit -infinity padding pad_h, pad_w (at most half the window, so
// every window holds at least one element of the map); Ho = (H + 2 pad_h - kh) / stride_h + 1.
struct PoolShape {
  int64_t planes, H, W, Ho, Wo, kh, kw, stride_h, stride_w, pad_h, pad_w;
};

}  // namespace repmlp

REPMLP_KERNELS(
  // out: (planes, Ho, Wo); indices: (planes, Ho, Wo) int64, the index hi * W + wi in its plane
  // of each window's maximum (the first in row-major order, or the last NaN), or null;
  // inp: (planes, H, W)
  void maxpool2d_forward(float* out, int64_t* indices, const float* inp, const PoolShape& s);
  // dinp: (planes, H, W), overwritten: each element the sum, in window order, of the output
  // gradients whose index is that element's; dout, indices: (planes, Ho, Wo)
  void maxpool2d_backward(float* dinp, const float* dout, const int64_t* indices, const PoolShape& s);
)

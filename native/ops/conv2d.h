// The conv2d kernels, declared once for the CPU (ops/conv2d.cc) and for CUDA (cuda/conv2d.cu).
#pragma once
#include <cstdint>

#include "../common.h"

namespace repmlp {

// The geometry of a 2-D convolution (NCHW): inp (N, Cin, H, W), weight (Cout, Cin / groups,
// kh, kw), bias (Cout), out (N, Cout, Ho, Wo) with Ho = (H + 2 pad_h - kh) / stride_h + 1 and
// Wo likewise.
struct Conv2dShape {
  int64_t N, Cin, H, W, Cout, kh, kw, stride_h, stride_w, pad_h, pad_w, groups;
};

}  // namespace repmlp

REPMLP_KERNELS(
  // bias: null for none
  void conv2d_forward(float* out, const float* inp, const float* weight, const float* bias, const Conv2dShape& s);
  // Each gradient is overwritten when given (else null); inp is read only for dweight,
  // weight only for dinp.
  void conv2d_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                       const Conv2dShape& s);
)

// The conv2d kernels, declared once for the CPU (ops/conv2d.cc) and for CUDA (cuda/conv2d.cu).
#pragma once
#include <cstdint>

#include "../common.h"

REPMLP_KERNELS(
  void conv2d_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t N, int64_t Cin,
                      int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw, int64_t strideH, int64_t strideW,
                      int64_t padH, int64_t padW, int64_t groups);
  void conv2d_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                       int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                       int64_t strideH, int64_t strideW, int64_t padH, int64_t padW, int64_t groups);
)

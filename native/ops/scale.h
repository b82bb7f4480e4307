// The scale kernels, declared once for the CPU (ops/scale.cc) and for CUDA (cuda/scale.cu).
#pragma once
#include <cstdint>

#include "../common.h"

REPMLP_KERNELS(
  void axpy(float* out, const float* x, float alpha, int64_t n);
  void scale(float* out, const float* x, float alpha, float beta, int64_t n);
)

// The bias_grad kernels, declared once for the CPU (ops/bias_grad.cc) and for CUDA (cuda/bias_grad.cu).
#pragma once
#include <cstdint>

#include "../common.h"

REPMLP_KERNELS(
  void bias_grad(float* dbias, const float* dout, int64_t N, int64_t C, int64_t HW);
)

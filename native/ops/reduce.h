// The reduce kernels, declared once for the CPU (ops/reduce.cc) and for CUDA (cuda/reduce.cu).
#pragma once
#include <cstdint>
#include <vector>

#include "../common.h"

REPMLP_KERNELS(
  void sum_to(float* out, const float* inp, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape);
)

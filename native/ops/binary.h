// The binary kernels, declared once for the CPU (ops/binary.cc) and for CUDA (cuda/binary.cu).
#pragma once
#include <cstdint>
#include <vector>

#include "../common.h"
#include "broadcast.h"

REPMLP_KERNELS(
  void binary_forward(float* out, const float* a, const float* b, BinaryOp op, const std::vector<int64_t>& shape,
                      const std::vector<int64_t>& a_strides, const std::vector<int64_t>& b_strides);
)

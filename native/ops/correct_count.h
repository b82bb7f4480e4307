// The correct_count kernels, declared once for the CPU (ops/correct_count.cc) and for CUDA (cuda/correct_count.cu).
#pragma once
#include <cstdint>

#include "../common.h"

REPMLP_KERNELS(
  // out (1) = rows of logits (N, K) whose argmax is the label
  void correct_count(float* out, const float* logits, const int64_t* labels, int64_t N, int64_t K);
)

// The cross_entropy kernels, declared once for the CPU (ops/cross_entropy.cc) and for CUDA (cuda/cross_entropy.cu).
#pragma once
#include <cstdint>

#include "../common.h"

REPMLP_KERNELS(
  // *bad_row: the first row whose class index is outside [0, K), else -1
  void cross_entropy_forward(float* loss, float* losses, float* stats, const float* logits, const int64_t* target,
                             int64_t N, int64_t K, float eps, int64_t* bad_row);
  void cross_entropy_backward(float* dlogits, const float* dloss, const float* stats, const float* logits,
                              const int64_t* target, int64_t N, int64_t K, float eps);
  void cross_entropy_soft_forward(float* loss, float* losses, float* stats, const float* logits, const float* target,
                                  int64_t N, int64_t K, float eps);
  void cross_entropy_soft_backward(float* dlogits, const float* dloss, const float* stats, const float* logits,
                                   const float* target, int64_t N, int64_t K, float eps);
)

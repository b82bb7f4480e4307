// The copy kernels, declared once for the CPU (ops/copy.cc) and for CUDA (cuda/copy.cu).
#pragma once
#include <cstdint>
#include <vector>

#include "../common.h"

REPMLP_KERNELS(
  void strided_copy_f32(float* out, const float* inp, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides);
  void strided_copy_i64(int64_t* out, const int64_t* inp, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides);
  void fill_f32(float* out, float value, int64_t n);
  void fill_i64(int64_t* out, int64_t value, int64_t n);
)

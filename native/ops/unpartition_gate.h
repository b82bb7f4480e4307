// The unpartition_gate kernels, declared once for the CPU (ops/unpartition_gate.cc) and for CUDA (cuda/unpartition_gate.cu).
#pragma once
#include <cstdint>

#include "../common.h"

REPMLP_KERNELS(
  // residual: null, or added to the output
  void unpartition_gate_forward(float* out, const float* y, const float* gate, const float* residual, int64_t N,
                                int64_t C, int64_t Hp, int64_t h, int64_t Wp, int64_t w);
  void unpartition_gate_backward(float* dy, float* dgate, const float* dout, const float* y, const float* gate,
                                 int64_t N, int64_t C, int64_t Hp, int64_t h, int64_t Wp, int64_t w);
)

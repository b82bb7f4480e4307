// The unpartition_gate kernels, declared once for the CPU (ops/unpartition_gate.cc) and for CUDA (cuda/unpartition_gate.cu).
#pragma once
#include <cstdint>

#include "../common.h"

namespace repmlp {

// Maps of (Hp*h, Wp*w) cut into Hp x Wp partitions of (h, w): the partitioned tensor y is
// (N*Hp*Wp, C, h, w), the map out (N, C, Hp*h, Wp*w), the gate (N, C).
struct PartitionShape {
  int64_t N, C, Hp, h, Wp, w;
};

}  // namespace repmlp

REPMLP_KERNELS(
  // out = unpartition(y) * gate [+ residual]; residual: out's shape, or null
  void unpartition_gate_forward(float* out, const float* y, const float* gate, const float* residual,
                                const PartitionShape& s);
  // dy: y's shape; dgate: (N, C); dout: out's shape; y, gate: the forward's inputs
  void unpartition_gate_backward(float* dy, float* dgate, const float* dout, const float* y, const float* gate,
                                 const PartitionShape& s);
)

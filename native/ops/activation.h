// Activations that other ops apply in the same pass over memory as their own output
// (BatchNorm's affine: conv -> BN -> ReLU in the embeddings, conv -> BN -> GELU in the FFN):
// the loops they share with the standalone ReLU and GELU kernels. The Act codes are in
// common.h.
#pragma once
#include <cstdint>

#include "../common.h"

namespace repmlp {
namespace cpu {

// ReLU as PyTorch computes it: NaN stays NaN (a NaN weight must show, not turn into 0).
__attribute__((always_inline)) inline float relu_f(float x) { return x <= 0.f ? 0.f : x; }
// Its gradient from the saved output, PyTorch's threshold_backward: 0 where out <= 0, else
// dout (so a NaN output passes dout through, as in PyTorch).
__attribute__((always_inline)) inline float relu_grad_f(float out, float dout) { return out <= 0.f ? 0.f : dout; }

// Serial loops over [b, e), defined in gelu.cc (vectorised, with an AVX2 clone); the GELU
// kernel runs them on its parallel chunks and fused ops on theirs, in place where out == inp.
// out, inp: (n)
void gelu_forward_range(float* out, const float* inp, int64_t b, int64_t e);
// dinp, dout, inp: (n); inp is GELU's input.
void gelu_backward_range(float* dinp, const float* dout, const float* inp, int64_t b, int64_t e);

}  // namespace cpu
}  // namespace repmlp

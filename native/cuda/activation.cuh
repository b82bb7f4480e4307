// Device twins of ops/activation.h: the per-element activations and derivatives that the
// standalone ReLU and GELU kernels share with the ops that fuse them (BatchNorm's output).
#pragma once
#include "../common.h"

namespace repmlp::cuda {

constexpr float kSqrtHalf = 0.70710678118654752440f;   // 1 / sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;  // 1 / sqrt(2 pi)

// GELU, exact form: x * Phi(x), Phi(x) = 0.5 * erfc(-x / sqrt(2)).
__device__ __forceinline__ float gelu_f(float x) { return x * 0.5f * erfcf(-x * kSqrtHalf); }

// d GELU / dx = Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
__device__ __forceinline__ float gelu_grad_f(float x) {
  const float cdf = 0.5f * erfcf(-x * kSqrtHalf);
  const float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
  return cdf + x * pdf;
}

// ReLU as PyTorch computes it: NaN stays NaN.
__device__ __forceinline__ float relu_f(float x) { return x <= 0.f ? 0.f : x; }
// Its gradient from the saved output (PyTorch's threshold_backward: a NaN output passes dout).
__device__ __forceinline__ float relu_grad_f(float out, float dout) { return out <= 0.f ? 0.f : dout; }

// act(t), with the activation known at compile time.
template <Act A>
__device__ __forceinline__ float activate(float t) {
  if constexpr (A == Act::ReLU) return relu_f(t);
  else if constexpr (A == Act::GELU) return gelu_f(t);
  else return t;
}

}  // namespace repmlp::cuda

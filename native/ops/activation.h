// Activations that other ops apply in the same pass over memory as their own output
// (BatchNorm's affine: conv -> BN -> ReLU in the embeddings, conv -> BN -> GELU in the FFN),
// and the per-element helpers the standalone ReLU and GELU kernels share with them.
// The Act codes are in common.h.
#pragma once
#include "../common.h"
#include "fast_math.h"

namespace repmlp {
namespace cpu {

constexpr float kSqrtHalf = 0.70710678118654752440f;   // 1 / sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;  // 1 / sqrt(2 pi)

// Phi(x) and phi(x) * sqrt(2 pi) = exp(-x^2 / 2), branch-free, all in float so that the
// loops vectorise eight wide. Phi is taken as 0.5 * erfc(-x / sqrt(2)), so it keeps full
// relative precision for negative x (1 + erf(.) would cancel). x^2 / 2 is split into a float
// high part and its exact remainder (an FMA), so the far tails keep their relative precision:
// Phi(-12) ~ 1.8e-33 is right to a few ulp. |x| is clamped to 15 first: beyond it Phi is 0 or
// 1 and phi is 0 in float, and the clamp keeps x^2 finite, so huge inputs give x (or -0) and a
// gradient of 1 (or 0) instead of NaN.
__attribute__((always_inline)) inline void normal_cdf_pdf(float x, float* cdf, float* gauss) {
  const float xc = x < -15.f ? -15.f : (x > 15.f ? 15.f : x);  // NaN stays NaN
  const float hx = 0.5f * xc;  // exact
  const float hi = hx * xc, lo = __builtin_fmaf(hx, xc, -hi);  // hi + lo = xc^2 / 2 exactly
  const float z = __builtin_fabsf(xc) * kSqrtHalf;
  const float e = exp_f(-hi);  // (z^2 = x^2 / 2)
  const float tail = 0.5f * erfc_pos(z, e, lo);  // Phi(-|x|)
  *cdf = x < 0.f ? tail : 1.f - tail;
  *gauss = e * (1.f - lo);  // exp(-lo) to first order: |lo| <= ulp(hi) / 2
}

// GELU, exact form: x * Phi(x).
__attribute__((always_inline)) inline float gelu_f(float x) {
  float cdf, gauss;
  normal_cdf_pdf(x, &cdf, &gauss);
  return x * cdf;
}

// d GELU / dx = Phi(x) + x * phi(x).
__attribute__((always_inline)) inline float gelu_grad_f(float x) {
  float cdf, gauss;
  normal_cdf_pdf(x, &cdf, &gauss);
  return cdf + x * kInvSqrt2Pi * gauss;
}

__attribute__((always_inline)) inline float relu_f(float x) { return x > 0.f ? x : 0.f; }

}  // namespace cpu
}  // namespace repmlp

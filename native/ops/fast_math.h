// Branch-free float exp and erfc that the compiler vectorises (no libm calls in the loop;
// the selects if-convert because the addon is built with -fno-trapping-math), for the
// elementwise kernels on the CPU (callers keep the arguments in range: GELU clamps |x| to
// 15). Accuracy: exp_f within 2 ulp over its range;
// erfc_f within 3e-7 relative everywhere it does not underflow (the Chebyshev fit of
// Numerical Recipes' erfcc, 1.2e-7 relative, evaluated with the square kept exact).
#pragma once
#include <cstdint>
#include <cstring>

namespace repmlp::cpu {

// 2^k for integer k in [-126, 127], built from its bits (unsigned arithmetic: any k is defined).
__attribute__((always_inline)) inline float pow2i(int32_t k) {
  const uint32_t bits = (static_cast<uint32_t>(k) + 127u) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// e^(a + r) for a + r in [-150, 88.7] (the caller keeps it there; below -87 the result is a
// subnormal), where a may be large and exact and r small: a is reduced by k ln 2 exactly
// before r is added, so r's bits are kept however large a is (one exp where e^a * e^r would
// take two). A NaN gives NaN.
inline float exp_sum(float a, float r) {
  // k = round((a + r) / ln 2) with the 1.5 * 2^23 trick (no rint call); f = a + r - k ln 2, ln 2 in two parts.
  const float biased = (a + r) * 1.44269504088896341f + 12582912.f;
  const float kf = biased - 12582912.f;
  const float f = ((a - kf * 0.693145751953125f) - kf * 1.428606765330187e-6f) + r;
  // e^f on |f| <= ln2 / 2: Taylor to degree 7 (truncation < 6e-9 relative), evaluated in
  // Estrin's scheme: a chain of 3 multiply-adds rather than Horner's 7, so that a vector loop
  // of these keeps more elements in flight.
  const float f2 = f * f, f4 = f2 * f2;
  const float p01 = 1.f + f, p23 = 0.5f + f * (1.f / 6), p45 = 1.f / 24 + f * (1.f / 120),
              p67 = 1.f / 720 + f * (1.f / 5040);
  const float p = (p01 + f2 * p23) + f4 * (p45 + f2 * p67);
  // k from biased's bits (1.5 * 2^23 + k has an ulp of 1, so its low bits are k + 2^22): no
  // float-to-integer conversion, which a NaN would make undefined. Scaled by 2^k in two normal
  // steps so that results down to subnormals stay right.
  uint32_t bits;
  std::memcpy(&bits, &biased, sizeof bits);
  const int32_t k = static_cast<int32_t>(bits - 0x4B400000u);
  const int32_t k1 = k >> 1;
  return p * pow2i(k1) * pow2i(k - k1);
}

// e^x for x in [-150, 88.7].
inline float exp_f(float x) { return exp_sum(x, 0.f); }

// erfc(z) for z >= 0 given z and z^2 split as hi + lo with hi exact in float.
__attribute__((always_inline)) inline float erfc_pos(float z, float z2_hi, float z2_lo) {
  const float t = 1.f / (1.f + 0.5f * z);
  // the degree-9 polynomial in t, in Estrin's scheme (a chain of 4 multiply-adds, not 9)
  const float t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
  const float c01 = -1.26551223f + t * 1.00002368f, c23 = 0.37409196f + t * 0.09678418f,
              c45 = -0.18628806f + t * 0.27886807f, c67 = -1.13520398f + t * 1.48851587f,
              c89 = -0.82215223f + t * 0.17087277f;
  const float p = ((c01 + t2 * c23) + t4 * (c45 + t2 * c67)) + t8 * c89;
  // exp(-z^2 + p): the exact high part is reduced on its own, so its rounding is not amplified.
  return t * exp_sum(-z2_hi, p - z2_lo);
}

}  // namespace repmlp::cpu

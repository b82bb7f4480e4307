// GELU, exact form: out = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))), with Phi the
// standard normal CDF, computed as 0.5 * erfc(-x / sqrt(2)) so it keeps full relative
// precision for negative x (1 + erf(.) would cancel); erfc and exp are the vectorisable
// ones of fast_math.h. Backward from the saved input:
// dinp = dout * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
#include <cmath>

#include "../args.h"
#include "../parallel.h"
#include "activation.h"
#include "fast_math.h"

namespace repmlp {
namespace cpu {

constexpr float kSqrtHalf = 0.70710678118654752440f;   // 1 / sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;  // 1 / sqrt(2 pi)

// Phi(x) and phi(x) * sqrt(2 pi) = exp(-x^2 / 2), branch-free, all in float so that the
// loops vectorise eight wide. x^2 / 2 is split into a float high part and its exact
// remainder (an FMA), so the far tails keep their relative precision: Phi(-12) ~ 1.8e-33 is
// right to a few ulp. |x| is clamped to 15 first: beyond it Phi is 0 or 1 and phi is 0 in
// float, and the clamp keeps x^2 finite, so huge inputs give x (or -0) and a gradient of 1
// (or 0) instead of NaN.
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

// out, inp: (n)
__attribute__((target_clones("arch=x86-64-v3", "default"))) void gelu_forward_range(float* out, const float* inp,
                                                                                     int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    float cdf, gauss;
    normal_cdf_pdf(inp[i], &cdf, &gauss);
    out[i] = inp[i] * cdf;
  }
}

// dinp, dout, inp: (n); inp is the saved forward input.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void gelu_backward_range(float* dinp, const float* dout,
                                                                                      const float* inp, int64_t b,
                                                                                      int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    float cdf, gauss;
    normal_cdf_pdf(inp[i], &cdf, &gauss);
    dinp[i] = dout[i] * (cdf + inp[i] * kInvSqrt2Pi * gauss);
  }
}

void gelu_forward(float* out, const float* inp, int64_t n) {
  parallel_for(n, 1 << 13, [&](int64_t b, int64_t e) { gelu_forward_range(out, inp, b, e); });
}

void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  parallel_for(n, 1 << 13, [&](int64_t b, int64_t e) { gelu_backward_range(dinp, dout, inp, b, e); });
}

}  // namespace cpu

// gelu_forward(out, inp, n)
static Napi::Value gelu_forward(const Napi::CallbackInfo& info) {
  Args a(info, "gelu_forward", 3);
  const int64_t n = a.size(2, "n");
  float* out = a.f32(0, "out", n);
  const float* inp = a.f32(1, "inp", n);
  if (a.device() == Device::CPU) cpu::gelu_forward(out, inp, n);
  else REPMLP_CUDA(a, gelu_forward(out, inp, n));
  return info.Env().Undefined();
}

// gelu_backward(dinp, dout, inp, n)
static Napi::Value gelu_backward(const Napi::CallbackInfo& info) {
  Args a(info, "gelu_backward", 4);
  const int64_t n = a.size(3, "n");
  float* dinp = a.f32(0, "dinp", n);
  const float* dout = a.f32(1, "dout", n);
  const float* inp = a.f32(2, "inp", n);
  if (a.device() == Device::CPU) cpu::gelu_backward(dinp, dout, inp, n);
  else REPMLP_CUDA(a, gelu_backward(dinp, dout, inp, n));
  return info.Env().Undefined();
}

void register_gelu(Napi::Object exports) {
  REPMLP_EXPORT(exports, gelu_forward);
  REPMLP_EXPORT(exports, gelu_backward);
}

}  // namespace repmlp

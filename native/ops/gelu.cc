// GELU, exact form: out = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))), with Phi the
// standard normal CDF, computed as 0.5 * erfc(-x / sqrt(2)) so it keeps full relative
// precision for negative x (1 + erf(.) would cancel). Backward from the saved input:
// dinp = dout * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
#include <cmath>

#include "../args.h"
#include "../parallel.h"

namespace repmlp {
namespace cpu {

constexpr float kSqrtHalf = 0.70710678118654752440f;   // 1 / sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;  // 1 / sqrt(2 pi)

// out, inp: (n)
void gelu_forward(float* out, const float* inp, int64_t n) {
  parallel_for(n, 1 << 13, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float x = inp[i];
      out[i] = x * 0.5f * std::erfc(-x * kSqrtHalf);
    }
  });
}

// dinp, dout, inp: (n); inp is the saved forward input.
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  parallel_for(n, 1 << 13, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float x = inp[i];
      const float cdf = 0.5f * std::erfc(-x * kSqrtHalf);
      const float pdf = kInvSqrt2Pi * std::exp(-0.5f * x * x);
      dinp[i] = dout[i] * (cdf + x * pdf);
    }
  });
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

// GELU, exact form: out = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))), with Phi the
// standard normal CDF (activation.h computes it from the vectorisable erfc and exp of
// fast_math.h). Backward from the saved input:
// dinp = dout * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
#include <cmath>

#include "../args.h"
#include "../parallel.h"
#include "activation.h"

namespace repmlp {
namespace cpu {

// out, inp: (n)
__attribute__((target_clones("arch=x86-64-v3", "default"))) void gelu_forward_range(float* out, const float* inp,
                                                                                     int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    out[i] = gelu_f(inp[i]);
  }
}

// dinp, dout, inp: (n); inp is the saved forward input.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void gelu_backward_range(float* dinp, const float* dout,
                                                                                      const float* inp, int64_t b,
                                                                                      int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    dinp[i] = dout[i] * gelu_grad_f(inp[i]);
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

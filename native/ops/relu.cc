// ReLU: out = max(inp, 0), NaN kept; backward dinp = out <= 0 ? 0 : dout (activation.h).
// Elementwise: out may be inp, and dinp may be dout or out (each element is read, then written).
#include "../args.h"
#include "../parallel.h"
#include "activation.h"

namespace repmlp {
namespace cpu {

// out, inp: (n)
void relu_forward(float* out, const float* inp, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = relu_f(inp[i]);
  });
}

// dinp, dout, out: (n); the saved forward output decides the mask.
void relu_backward(float* dinp, const float* dout, const float* out, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dinp[i] = relu_grad_f(out[i], dout[i]);
  });
}

}  // namespace cpu

// relu_forward(out, inp, n)
static Napi::Value relu_forward(const Napi::CallbackInfo& info) {
  Args a(info, "relu_forward", 3);
  const int64_t n = a.size(2, "n");
  float* out = a.f32(0, "out", n);
  const float* inp = a.f32(1, "inp", n);
  if (a.device() == Device::CPU) cpu::relu_forward(out, inp, n);
  else REPMLP_CUDA(a, relu_forward(out, inp, n));
  return info.Env().Undefined();
}

// relu_backward(dinp, dout, out, n)
static Napi::Value relu_backward(const Napi::CallbackInfo& info) {
  Args a(info, "relu_backward", 4);
  const int64_t n = a.size(3, "n");
  float* dinp = a.f32(0, "dinp", n);
  const float* dout = a.f32(1, "dout", n);
  const float* out = a.f32(2, "out", n);
  if (a.device() == Device::CPU) cpu::relu_backward(dinp, dout, out, n);
  else REPMLP_CUDA(a, relu_backward(dinp, dout, out, n));
  return info.Env().Undefined();
}

void register_relu(Napi::Object exports) {
  REPMLP_EXPORT(exports, relu_forward);
  REPMLP_EXPORT(exports, relu_backward);
}

}  // namespace repmlp

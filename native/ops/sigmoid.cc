// Sigmoid: out = 1 / (1 + exp(-x)), evaluated without overflow for either sign.
// Backward from the saved output: dinp = dout * out * (1 - out).
#include <cmath>

#include "../args.h"
#include "../parallel.h"

namespace repmlp {
namespace cpu {

// out, inp: (n)
void sigmoid_forward(float* out, const float* inp, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float x = inp[i];
      const float z = std::exp(-std::fabs(x));  // in (0, 1]: never overflows
      out[i] = x >= 0.f ? 1.f / (1.f + z) : z / (1.f + z);
    }
  });
}

// dinp, dout, out: (n); out is the saved forward output.
void sigmoid_backward(float* dinp, const float* dout, const float* out, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dinp[i] = dout[i] * out[i] * (1.f - out[i]);
  });
}

}  // namespace cpu

// sigmoid_forward(out, inp, n)
static Napi::Value sigmoid_forward(const Napi::CallbackInfo& info) {
  Args a(info, "sigmoid_forward", 3);
  const int64_t n = a.size(2, "n");
  float* out = a.f32(0, "out", n);
  const float* inp = a.f32(1, "inp", n);
  if (a.device() == Device::CPU) cpu::sigmoid_forward(out, inp, n);
  else REPMLP_CUDA(a, sigmoid_forward(out, inp, n));
  return info.Env().Undefined();
}

// sigmoid_backward(dinp, dout, out, n)
static Napi::Value sigmoid_backward(const Napi::CallbackInfo& info) {
  Args a(info, "sigmoid_backward", 4);
  const int64_t n = a.size(3, "n");
  float* dinp = a.f32(0, "dinp", n);
  const float* dout = a.f32(1, "dout", n);
  const float* out = a.f32(2, "out", n);
  if (a.device() == Device::CPU) cpu::sigmoid_backward(dinp, dout, out, n);
  else REPMLP_CUDA(a, sigmoid_backward(dinp, dout, out, n));
  return info.Env().Undefined();
}

void register_sigmoid(Napi::Object exports) {
  REPMLP_EXPORT(exports, sigmoid_forward);
  REPMLP_EXPORT(exports, sigmoid_backward);
}

}  // namespace repmlp

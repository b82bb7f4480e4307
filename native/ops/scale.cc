// Affine elementwise updates: axpy (out += alpha * x, used to accumulate gradients) and
// scale (out = alpha * x + beta, used for scalar multiply/add and mean's backward).
// Both allow out == x.
#include "scale.h"
#include "../args.h"
#include "../parallel.h"

namespace repmlp {
// out, x: (n)
void cpu::axpy(float* out, const float* x, float alpha, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] += alpha * x[i];
  });
}

// out, x: (n)
void cpu::scale(float* out, const float* x, float alpha, float beta, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = alpha * x[i] + beta;
  });
}


// axpy(out, x, alpha, n)
static Napi::Value axpy(const Napi::CallbackInfo& info) {
  Args a(info, "axpy", 4);
  const float alpha = static_cast<float>(a.number(2, "alpha"));
  const int64_t n = a.size(3, "n");
  float* out = a.f32(0, "out", n);
  const float* x = a.f32(1, "x", n);
  REPMLP_DISPATCH(a, axpy, out, x, alpha, n);
  return info.Env().Undefined();
}

// scale(out, x, alpha, beta, n)
static Napi::Value scale(const Napi::CallbackInfo& info) {
  Args a(info, "scale", 5);
  const float alpha = static_cast<float>(a.number(2, "alpha")), beta = static_cast<float>(a.number(3, "beta"));
  const int64_t n = a.size(4, "n");
  float* out = a.f32(0, "out", n);
  const float* x = a.f32(1, "x", n);
  REPMLP_DISPATCH(a, scale, out, x, alpha, beta, n);
  return info.Env().Undefined();
}

void register_scale(Napi::Object exports) {
  REPMLP_EXPORT(exports, axpy);
  REPMLP_EXPORT(exports, scale);
}

}  // namespace repmlp

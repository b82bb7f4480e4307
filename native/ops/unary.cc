// The unary activations of unary.h on the CPU: one generic kernel pair and one generic
// binding pair, instantiated for every functor of REPMLP_UNARY_OPS.
#include "unary.h"

#include <string>

#include "../args.h"
#include "../parallel.h"
#include "../cpu_isa.h"

namespace repmlp {

// out, inp: (n)
template <typename F>
REPMLP_VECTOR_CLONES void cpu::unary_forward_range(
    float* out, const float* inp, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) out[i] = F::forward(inp[i]);
}

// dinp, dout, saved: (n)
template <typename F>
REPMLP_VECTOR_CLONES void cpu::unary_backward_range(
    float* dinp, const float* dout, const float* saved, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) dinp[i] = F::backward(saved[i], dout[i]);
}

template <typename F>
void cpu::unary_forward(float* out, const float* inp, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) { unary_forward_range<F>(out, inp, b, e); });
}

template <typename F>
void cpu::unary_backward(float* dinp, const float* dout, const float* saved, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) { unary_backward_range<F>(dinp, dout, saved, b, e); });
}

#define REPMLP_UNARY_INSTANTIATE(F)                                                                       \
  template void cpu::unary_forward_range<F>(float*, const float*, int64_t, int64_t);                     \
  template void cpu::unary_backward_range<F>(float*, const float*, const float*, int64_t, int64_t);      \
  template void cpu::unary_forward<F>(float*, const float*, int64_t);                                    \
  template void cpu::unary_backward<F>(float*, const float*, const float*, int64_t);
REPMLP_UNARY_OPS(REPMLP_UNARY_INSTANTIATE)
#undef REPMLP_UNARY_INSTANTIATE

namespace {

// "<name>_forward" or "<name>_backward": a binding's name and its errors' prefix.
template <typename F, bool Backward>
const char* binding_name() {
  static const std::string s = std::string(F::name) + (Backward ? "_backward" : "_forward");
  return s.c_str();
}

// <name>_forward(out, inp, n)
template <typename F>
Napi::Value unary_forward(const Napi::CallbackInfo& info) {
  Args a(info, binding_name<F, false>(), 3);
  const int64_t n = a.size(2, "n");
  float* out = a.f32(0, "out", n);
  const float* inp = a.f32(1, "inp", n);
  REPMLP_DISPATCH(a, unary_forward<F>, out, inp, n);
  return info.Env().Undefined();
}

// <name>_backward(dinp, dout, saved, n), saved named "out" or "inp"
template <typename F>
Napi::Value unary_backward(const Napi::CallbackInfo& info) {
  Args a(info, binding_name<F, true>(), 4);
  const int64_t n = a.size(3, "n");
  float* dinp = a.f32(0, "dinp", n);
  const float* dout = a.f32(1, "dout", n);
  const float* saved = a.f32(2, F::saves_output ? "out" : "inp", n);
  REPMLP_DISPATCH(a, unary_backward<F>, dinp, dout, saved, n);
  return info.Env().Undefined();
}

// A binding wrapped by guarded(), as REPMLP_EXPORT does, under its name.
template <typename F, bool Backward, Binding Fn>
void export_binding(Napi::Object exports) {
  const char* name = binding_name<F, Backward>();
  auto guarded_fn = [](const Napi::CallbackInfo& info) { return guarded(binding_name<F, Backward>(), Fn, info); };
  exports.Set(name, Napi::Function::New(exports.Env(), guarded_fn, name));
}

}  // namespace

void register_unary(Napi::Object exports) {
#define REPMLP_UNARY_EXPORT(F)                                \
  export_binding<F, false, unary_forward<F>>(exports); \
  export_binding<F, true, unary_backward<F>>(exports);
  REPMLP_UNARY_OPS(REPMLP_UNARY_EXPORT)
#undef REPMLP_UNARY_EXPORT
}

}  // namespace repmlp

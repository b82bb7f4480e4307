// unpartition_gate: the end of a RepMLP block in one pass over memory. The block's partitions
// y are put back into the map, multiplied by the Global Perceptron's per-channel gate and
// (optionally) added to the residual stream:
//
//   out[n, c, hp*h + i, wp*w + j] = y[((n*Hp + hp)*Wp + wp), c, i, j] * gate[n, c]
//                                   + residual[n, c, hp*h + i, wp*w + j]
//
// y: (N*Hp*Wp, C, h, w), gate: (N, C), out and residual: (N, C, Hp*h, Wp*w). With one
// partition per map (Hp = Wp = 1) y and out share their layout.
// Backward, per (n, c) plane in one pass: dy = dout * gate (in y's layout) and
// dgate[n, c] = sum over the plane of dout * y, accumulated in double. The residual's gradient
// is dout itself (the caller passes it on).
#include "../args.h"
#include "../parallel.h"

namespace repmlp {
namespace cpu {

// Calls fn(out_offset, y_offset, count) for each row of w elements of plane (n, c): the
// elements out[out_offset + j] and y[y_offset + j], j < count, correspond.
template <typename Fn>
static void for_each_row(int64_t n, int64_t c, int64_t C, int64_t Hp, int64_t h, int64_t Wp, int64_t w, Fn fn) {
  const int64_t W = Wp * w, plane = (n * C + c) * Hp * h * W;
  if (Hp == 1 && Wp == 1) return fn(plane, plane, h * w);  // one partition: the same layout
  for (int64_t hp = 0; hp < Hp; ++hp)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t wp = 0; wp < Wp; ++wp)
        fn(plane + (hp * h + i) * W + wp * w, (((n * Hp + hp) * Wp + wp) * C + c) * h * w + i * w, w);
}

// One row: out = y * g (+ residual), n elements.
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void gate_row(
    float* __restrict__ out, const float* __restrict__ y, float g, const float* __restrict__ residual, int64_t n) {
  if (residual)
    for (int64_t j = 0; j < n; ++j) out[j] = y[j] * g + residual[j];
  else
    for (int64_t j = 0; j < n; ++j) out[j] = y[j] * g;
}

// One row of backward: dy = dout * g, n elements; returns the sum of dout * y in double.
__attribute__((target_clones("arch=x86-64-v3", "default"))) static double gate_row_backward(
    float* __restrict__ dy, const float* __restrict__ dout, const float* __restrict__ y, float g, int64_t n) {
  double acc = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    dy[j] = dout[j] * g;
    acc += static_cast<double>(dout[j]) * static_cast<double>(y[j]);
  }
  return acc;
}

// out: (N, C, Hp*h, Wp*w); y: (N*Hp*Wp, C, h, w); gate: (N, C); residual: out's shape, or null
void unpartition_gate_forward(float* out, const float* y, const float* gate, const float* residual, int64_t N,
                              int64_t C, int64_t Hp, int64_t h, int64_t Wp, int64_t w) {
  const int64_t plane = Hp * h * Wp * w;
  parallel_for(N * C, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(plane, 1)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      for_each_row(t / C, t % C, C, Hp, h, Wp, w, [&](int64_t o, int64_t yo, int64_t n) {
        gate_row(out + o, y + yo, gate[t], residual ? residual + o : nullptr, n);
      });
  });
}

// dy: y's shape; dgate: (N, C); dout: out's shape; y, gate: the forward's inputs
void unpartition_gate_backward(float* dy, float* dgate, const float* dout, const float* y, const float* gate,
                               int64_t N, int64_t C, int64_t Hp, int64_t h, int64_t Wp, int64_t w) {
  const int64_t plane = Hp * h * Wp * w;
  parallel_for(N * C, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(plane, 1)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      double acc = 0.0;
      for_each_row(t / C, t % C, C, Hp, h, Wp, w, [&](int64_t o, int64_t yo, int64_t n) {
        acc += gate_row_backward(dy + yo, dout + o, y + yo, gate[t], n);
      });
      dgate[t] = static_cast<float>(acc);
    }
  });
}

}  // namespace cpu

namespace {

// The (N, C, Hp, h, Wp, w) sizes at arguments i..i+5, and the element counts they give.
struct Geometry {
  int64_t N, C, Hp, h, Wp, w, numel;
};
Geometry geometry(Args& a, size_t i) {
  Geometry g{a.size(i, "N"), a.size(i + 1, "C"), a.size(i + 2, "Hp"), a.size(i + 3, "h"), a.size(i + 4, "Wp"),
             a.size(i + 5, "w"), 0};
  const double planes = static_cast<double>(g.N) * g.C, numel = planes * g.Hp * g.h * g.Wp * g.w;
  if (planes > 9.0e15 || numel > 9.0e15) a.fail_arg("N * C * Hp * h * Wp * w", "a size below 2^53", std::to_string(numel));
  g.numel = g.N * g.C * g.Hp * g.h * g.Wp * g.w;
  return g;
}

}  // namespace

// unpartition_gate_forward(out, y, gate, residual | null, N, C, Hp, h, Wp, w)
static Napi::Value unpartition_gate_forward(const Napi::CallbackInfo& info) {
  Args a(info, "unpartition_gate_forward", 10);
  const Geometry g = geometry(a, 4);
  float* out = a.f32(0, "out", g.numel);
  const float* y = a.f32(1, "y", g.numel);
  const float* gate = a.f32(2, "gate", g.N * g.C);
  const float* residual = a.is_null(3) ? nullptr : a.f32(3, "residual", g.numel);
  if (a.device() == Device::CPU) cpu::unpartition_gate_forward(out, y, gate, residual, g.N, g.C, g.Hp, g.h, g.Wp, g.w);
  else REPMLP_CUDA(a, unpartition_gate_forward(out, y, gate, residual, g.N, g.C, g.Hp, g.h, g.Wp, g.w));
  return info.Env().Undefined();
}

// unpartition_gate_backward(dy, dgate, dout, y, gate, N, C, Hp, h, Wp, w)
static Napi::Value unpartition_gate_backward(const Napi::CallbackInfo& info) {
  Args a(info, "unpartition_gate_backward", 11);
  const Geometry g = geometry(a, 5);
  float* dy = a.f32(0, "dy", g.numel);
  float* dgate = a.f32(1, "dgate", g.N * g.C);
  const float* dout = a.f32(2, "dout", g.numel);
  const float* y = a.f32(3, "y", g.numel);
  const float* gate = a.f32(4, "gate", g.N * g.C);
  if (a.device() == Device::CPU) cpu::unpartition_gate_backward(dy, dgate, dout, y, gate, g.N, g.C, g.Hp, g.h, g.Wp, g.w);
  else REPMLP_CUDA(a, unpartition_gate_backward(dy, dgate, dout, y, gate, g.N, g.C, g.Hp, g.h, g.Wp, g.w));
  return info.Env().Undefined();
}

void register_unpartition_gate(Napi::Object exports) {
  REPMLP_EXPORT(exports, unpartition_gate_forward);
  REPMLP_EXPORT(exports, unpartition_gate_backward);
}

}  // namespace repmlp

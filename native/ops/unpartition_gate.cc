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
#include <vector>

#include "unpartition_gate.h"
#include "unpartition_gate_args.h"
#include "../args.h"
#include "../parallel.h"
#include "../cpu_isa.h"

namespace repmlp {
namespace cpu {

// rows rows of n elements, row r scaled by gate[r]: out = y * gate (+ residual). The rows are
// contiguous in out, y and residual (one call per chunk of planes when y and out share their
// layout, one per row of a partition otherwise).
REPMLP_VECTOR_CLONES static void gate_rows(
    float* __restrict__ out, const float* __restrict__ y, const float* __restrict__ gate,
    const float* __restrict__ residual, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r, out += n, y += n) {
    const float g = gate[r];
    if (residual) {
      for (int64_t j = 0; j < n; ++j) out[j] = y[j] * g + residual[j];
      residual += n;
    } else {
      for (int64_t j = 0; j < n; ++j) out[j] = y[j] * g;
    }
  }
}

// Backward of gate_rows: dy = dout * gate[r]; sums[r] += the row's sum of dout * y in double.
REPMLP_VECTOR_CLONES static void gate_rows_backward(
    float* __restrict__ dy, double* __restrict__ sums, const float* __restrict__ dout, const float* __restrict__ y,
    const float* __restrict__ gate, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r, dy += n, dout += n, y += n) {
    const float g = gate[r];
    double acc = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      dy[j] = dout[j] * g;
      acc += static_cast<double>(dout[j]) * static_cast<double>(y[j]);
    }
    sums[r] += acc;
  }
}

// Calls fn(out_offset, y_offset) for each row of w elements of plane t = n * C + c: the
// elements out[out_offset + j] and y[y_offset + j], j < w, correspond.
template <typename Fn>
static void for_each_row(int64_t t, int64_t C, int64_t Hp, int64_t h, int64_t Wp, int64_t w, Fn fn) {
  const int64_t n = t / C, c = t % C, W = Wp * w, plane = t * Hp * h * W;
  for (int64_t hp = 0; hp < Hp; ++hp)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t wp = 0; wp < Wp; ++wp) fn(plane + (hp * h + i) * W + wp * w, (((n * Hp + hp) * Wp + wp) * C + c) * h * w + i * w);
}

}  // namespace cpu

void cpu::unpartition_gate_forward(float* out, const float* y, const float* gate, const float* residual,
                                   const PartitionShape& s) {
  const auto N = s.N, C = s.C, Hp = s.Hp, h = s.h, Wp = s.Wp, w = s.w;
  const int64_t plane = Hp * h * Wp * w;
  const bool same = Hp == 1 && Wp == 1;  // one partition per map: y and out share their layout
  parallel_for(N * C, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(plane, 1)), [&](int64_t t0, int64_t t1) {
    if (same) {
      const int64_t o = t0 * plane;
      gate_rows(out + o, y + o, gate + t0, residual ? residual + o : nullptr, t1 - t0, plane);
      return;
    }
    for (int64_t t = t0; t < t1; ++t)
      for_each_row(t, C, Hp, h, Wp, w, [&](int64_t o, int64_t yo) {
        gate_rows(out + o, y + yo, gate + t, residual ? residual + o : nullptr, 1, w);
      });
  });
}

void cpu::unpartition_gate_backward(float* dy, float* dgate, const float* dout, const float* y, const float* gate,
                                    const PartitionShape& s) {
  const auto N = s.N, C = s.C, Hp = s.Hp, h = s.h, Wp = s.Wp, w = s.w;
  const int64_t plane = Hp * h * Wp * w;
  const bool same = Hp == 1 && Wp == 1;
  parallel_for(N * C, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(plane, 1)), [&](int64_t t0, int64_t t1) {
    std::vector<double> sums(t1 - t0, 0.0);  // dgate[t0 + k], accumulated in double
    if (same) {
      const int64_t o = t0 * plane;
      gate_rows_backward(dy + o, sums.data(), dout + o, y + o, gate + t0, t1 - t0, plane);
    } else {
      for (int64_t t = t0; t < t1; ++t)
        for_each_row(t, C, Hp, h, Wp, w, [&](int64_t o, int64_t yo) {
          gate_rows_backward(dy + yo, &sums[t - t0], dout + o, y + yo, gate + t, 1, w);
        });
    }
    for (int64_t t = t0; t < t1; ++t) dgate[t] = static_cast<float>(sums[t - t0]);
  });
}


// unpartition_gate_forward({out, y, gate, residual | null, N, C, Hp, h, Wp, w})
static Napi::Value unpartition_gate_forward(const Napi::CallbackInfo& info) {
  Args a(info, "unpartition_gate_forward", Args::named);
  const GateForward g = read_gate_forward<false>(a);
  if (g.numel == 0) return info.Env().Undefined();
  REPMLP_DISPATCH(a, unpartition_gate_forward, g.out, g.y, g.gate, g.residual, g.shape);
  return info.Env().Undefined();
}

// unpartition_gate_backward({dy, dgate, dout, y, gate, N, C, Hp, h, Wp, w})
static Napi::Value unpartition_gate_backward(const Napi::CallbackInfo& info) {
  Args a(info, "unpartition_gate_backward", Args::named);
  const GateGeometry g = gate_geometry(a);
  float* dy = a.f32("dy", g.numel);
  float* dgate = a.f32("dgate", g.planes);
  const float* dout = a.f32("dout", g.numel);
  const float* y = a.f32("y", g.numel);
  const float* gate = a.f32("gate", g.planes);
  a.check_distinct({{"dy", dy}, {"dgate", dgate}}, {{"dy", dy}, {"dgate", dgate}, {"dout", dout}, {"y", y}, {"gate", gate}});
  // Empty planes (a size of 0 among Hp, h, Wp, w): each gate's gradient is a sum over nothing,
  // and the kernels' row loops would still run over the other, possibly huge, sizes.
  if (g.numel == 0) return a.zero(dgate, g.planes), info.Env().Undefined();
  REPMLP_DISPATCH(a, unpartition_gate_backward, dy, dgate, dout, y, gate, g.shape);
  return info.Env().Undefined();
}

void register_unpartition_gate(Napi::Object exports) {
  REPMLP_EXPORT(exports, unpartition_gate_forward);
  REPMLP_EXPORT(exports, unpartition_gate_backward);
}

}  // namespace repmlp

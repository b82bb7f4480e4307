// sum_to: sums a contiguous input over the dimensions where the output has size 1 (same
// rank). Serves the gradients of broadcast operands, sum / mean over dimensions, expand's
// backward and the global average pool. Sums accumulate in double; long reductions are cut
// into fixed blocks whose partial sums are added in order, so the result depends only on
// the shapes (never on the thread count).
#include <algorithm>

#include "reduce.h"
#include "../args.h"
#include "../parallel.h"
#include "broadcast.h"

namespace repmlp {
namespace cpu {

// Sum of n contiguous floats in double; eight independent lanes so the loop vectorises.
static inline double sum_run(const float* __restrict__ p, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(p[i + k]);
  for (; i < n; ++i) acc[0] += static_cast<double>(p[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

constexpr int64_t kBlockElems = 1 << 15;  // input elements per partial sum (at most)
constexpr int64_t kColumns = 2048;        // output columns per task in the kept-inner case

// Output o = sum over p < P, l < L of in[base(o) + offset(p) + l]. Each output's P * L
// elements are cut into nblk equal chunks (a function of the shapes only); every chunk is a
// task, and chunk partials are added in order.
static void sum_inner_reduced(float* out, const float* in, const ReducePlan& p) {
  const int64_t M = p.rows, P = p.outer, L = p.L, total = P * L;
  const int64_t nblk = (total + kBlockElems - 1) / kBlockElems;
  const int64_t chunk = (total + nblk - 1) / nblk;
  std::vector<double> partial(nblk > 1 ? M * nblk : 0);  // (M, nblk)
  parallel_for(M * nblk, std::max<int64_t>(1, kBlockElems / chunk), [&](int64_t t0, int64_t t1) {
    OffsetWalker base(p.kept_sizes, p.kept_strides), red(p.red_sizes, p.red_strides);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / nblk, blk = t % nblk;
      int64_t e = blk * chunk, l = e % L;
      const int64_t end = std::min(total, e + chunk);
      base.seek(o);
      red.seek(e / L);
      double s = 0;
      while (e < end) {  // the chunk's pieces of consecutive runs
        const int64_t n = std::min(L - l, end - e);
        s += sum_run(in + base.offset + red.offset + l, n);
        e += n;
        l = 0;
        red.next();
      }
      if (nblk == 1) out[o] = static_cast<float>(s);
      else partial[t] = s;
    }
  });
  if (nblk > 1)
    for (int64_t o = 0; o < M; ++o) {
      double s = 0;
      for (int64_t b = 0; b < nblk; ++b) s += partial[o * nblk + b];
      out[o] = static_cast<float>(s);
    }
}

// Output row q (L contiguous values) = sum over r < R of the input row at base(q) + offset(r).
static void sum_inner_kept(float* out, const float* in, const ReducePlan& p) {
  const int64_t Q = p.rows, R = p.outer, L = p.L;
  const int64_t ncol = (L + kColumns - 1) / kColumns;
  const int64_t per_block = std::max<int64_t>(1, kBlockElems / std::min(L, kColumns));  // r's per partial
  const int64_t nblk = (R + per_block - 1) / per_block;
  std::vector<double> partial(nblk > 1 ? Q * nblk * L : 0);  // (Q, nblk, L)
  const int64_t task_elems = std::min(R, per_block) * std::min(L, kColumns);
  parallel_for(Q * ncol * nblk, std::max<int64_t>(1, kBlockElems / task_elems), [&](int64_t t0, int64_t t1) {
    OffsetWalker base(p.kept_sizes, p.kept_strides), red(p.red_sizes, p.red_strides);
    std::vector<double> acc(std::min(L, kColumns));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t blk = t % nblk, col = (t / nblk) % ncol, q = t / (nblk * ncol);
      const int64_t c0 = col * kColumns, w = std::min(kColumns, L - c0);
      const int64_t r0 = blk * per_block, r1 = std::min(R, r0 + per_block);
      double* __restrict__ a = acc.data();
      std::fill(a, a + w, 0.0);
      base.seek(q);
      red.seek(r0);
      for (int64_t r = r0; r < r1; ++r, red.next()) {
        const float* __restrict__ row = in + base.offset + red.offset + c0;
        for (int64_t l = 0; l < w; ++l) a[l] += static_cast<double>(row[l]);
      }
      if (nblk == 1) {
        float* o = out + q * L + c0;
        for (int64_t l = 0; l < w; ++l) o[l] = static_cast<float>(a[l]);
      } else {
        std::copy(a, a + w, partial.data() + (q * nblk + blk) * L + c0);
      }
    }
  });
  if (nblk > 1)
    parallel_for(Q * L, 1 << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t q = i / L, l = i % L;
        double s = 0;
        for (int64_t b = 0; b < nblk; ++b) s += partial[(q * nblk + b) * L + l];
        out[i] = static_cast<float>(s);
      }
    });
}

}  // namespace cpu

// out: (prod(outShape)) contiguous; in: (prod(inShape)) contiguous; outShape[d] is inShape[d] or 1.
void cpu::sum_to(float* out, const float* in, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape) {
  const ReducePlan p = plan_reduce(in_shape, out_shape);
  if (p.out_numel == 0) return;
  if (p.in_numel == 0) {  // a sum over an empty dimension is 0
    std::fill(out, out + p.out_numel, 0.f);
    return;
  }
  if (p.inner_reduced) sum_inner_reduced(out, in, p);
  else sum_inner_kept(out, in, p);
}


// sum_to(out, inp, inShape, outShape)
static Napi::Value sum_to(const Napi::CallbackInfo& info) {
  Args a(info, "sum_to", 4);
  const auto in_shape = a.dims(2, "inShape"), out_shape = a.dims(3, "outShape");
  if (out_shape.size() != in_shape.size())
    a.fail_arg("outShape", std::to_string(in_shape.size()) + " dimensions like inShape", std::to_string(out_shape.size()));
  for (size_t d = 0; d < in_shape.size(); ++d)
    if (out_shape[d] != in_shape[d] && out_shape[d] != 1)
      a.fail_arg("outShape", "size " + std::to_string(in_shape[d]) + " or 1 in dimension " + std::to_string(d),
                 std::to_string(out_shape[d]));
  const int64_t n_in = a.product(in_shape), n_out = a.product(out_shape);
  float* out = a.f32(0, "out", n_out);
  const float* inp = a.f32(1, "inp", n_in);
  a.check_distinct({{"out", out}}, {{"out", out}, {"inp", inp}});
  if (n_out == 0) return info.Env().Undefined();
  // A sum over no elements; planning it would multiply the other sizes, which may overflow.
  if (n_in == 0) return a.zero(out, n_out), info.Env().Undefined();
  REPMLP_DISPATCH(a, sum_to, out, inp, in_shape, out_shape);
  return info.Env().Undefined();
}

void register_reduce(Napi::Object exports) { REPMLP_EXPORT(exports, sum_to); }

}  // namespace repmlp

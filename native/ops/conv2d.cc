// conv2d: PyTorch F.conv2d (cross-correlation, zero padding, stride, groups, optional bias)
// and its backward. Two CPU paths:
//   depthwise (groups == Cin == Cout): direct loops per (n, c) plane, in conv2d_depthwise.cc;
//   dense / grouped: im2col of a tile of output positions into a thread-local buffer and a
//     blocked matrix multiply (1x1 stride-1 unpadded convs read the input in place).
// Sums of more than a few terms run in float over blocks of kBlock terms that are then added
// into double accumulators, so the error does not grow with Cin * kh * kw or N * Ho * Wo.
// Every result is summed in an order that does not depend on the number of threads.
#include <algorithm>
#include <vector>

#include "conv2d.h"
#include "../args.h"
#include "../parallel.h"
#include "conv2d_cpu.h"

namespace repmlp {
namespace cpu {

using namespace conv;
namespace {

// For m < M: acc[m * ldacc + c] += sum_{r < R} a[m * am + r * as] * B[r * ldb + c], c < C.
// acc: (M, C) double, leading dimension ldacc; a: M coefficient vectors of R entries;
// B: (R, C) with leading dimension ldb, read once for all M rows.
template <int M>
void accumulate_rows_m(double* acc, int64_t ldacc, const float* a, int64_t am, int64_t as, const float* B, int64_t ldb,
                       int64_t R, int64_t C) {
  float part[M][kCols];
  for (int64_t c0 = 0; c0 < C; c0 += kCols) {
    const int64_t nc = std::min(kCols, C - c0);
    for (int64_t r0 = 0; r0 < R; r0 += kBlock) {
      const int64_t r1 = std::min(R, r0 + kBlock);
      for (int m = 0; m < M; ++m)
        for (int64_t c = 0; c < nc; ++c) part[m][c] = 0.f;
      for (int64_t r = r0; r < r1; ++r) {
        float ar[M];
        for (int m = 0; m < M; ++m) ar[m] = a[m * am + r * as];
        const float* __restrict b = B + r * ldb + c0;
        for (int64_t c = 0; c < nc; ++c) {
          const float bc = b[c];
          for (int m = 0; m < M; ++m) part[m][c] += ar[m] * bc;
        }
      }
      for (int m = 0; m < M; ++m) {
        double* __restrict ac = acc + m * ldacc + c0;
        for (int64_t c = 0; c < nc; ++c) ac[c] += part[m][c];
      }
    }
  }
}

// accumulate_rows_m for any number of rows, four at a time.
void accumulate_rows(double* acc, int64_t ldacc, const float* a, int64_t am, int64_t as, const float* B, int64_t ldb,
                     int64_t rows, int64_t R, int64_t C) {
  int64_t m = 0;
  for (; m + 4 <= rows; m += 4) accumulate_rows_m<4>(acc + m * ldacc, ldacc, a + m * am, am, as, B, ldb, R, C);
  for (; m < rows; ++m) accumulate_rows_m<1>(acc + m * ldacc, ldacc, a + m * am, am, as, B, ldb, R, C);
}

// col: (Cin_g * kh * kw, np), rows (ci, i, j), columns the output positions [p0, p0 + np);
// x: (Cin_g, H, W), one image's channels of one group.
void im2col(float* col, const float* x, const Geom& s, int64_t p0, int64_t np) {
  for (int64_t ci = 0; ci < s.Cin_g; ++ci) {
    const float* plane = x + ci * s.H * s.W;
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j) {
        float* row = col + ((ci * s.kh + i) * s.kw + j) * np;
        int64_t ho = p0 / s.Wo, wo = p0 % s.Wo;
        for (int64_t q = 0; q < np; ++q) {
          const int64_t hi = ho * s.sh - s.ph + i, wi = wo * s.sw - s.pw + j;
          row[q] = (hi >= 0 && hi < s.H && wi >= 0 && wi < s.W) ? plane[hi * s.W + wi] : 0.f;
          if (++wo == s.Wo) wo = 0, ++ho;
        }
      }
  }
}

// colT: (np, Cin_g * kh * kw), the transpose of im2col's tile; x: (Cin_g, H, W).
void im2col_t(float* colT, const float* x, const Geom& s, int64_t p0, int64_t np) {
  int64_t ho = p0 / s.Wo, wo = p0 % s.Wo;
  for (int64_t q = 0; q < np; ++q) {
    float* row = colT + q * s.K;
    for (int64_t ci = 0; ci < s.Cin_g; ++ci)
      for (int64_t i = 0; i < s.kh; ++i) {
        const int64_t hi = ho * s.sh - s.ph + i;
        const bool hin = hi >= 0 && hi < s.H;
        const float* xrow = x + (ci * s.H + (hin ? hi : 0)) * s.W;
        for (int64_t j = 0; j < s.kw; ++j) {
          const int64_t wi = wo * s.sw - s.pw + j;
          row[(ci * s.kh + i) * s.kw + j] = (hin && wi >= 0 && wi < s.W) ? xrow[wi] : 0.f;
        }
      }
    if (++wo == s.Wo) wo = 0, ++ho;
  }
}

std::vector<double>& scratch_f64() {
  thread_local std::vector<double> buf;
  return buf;
}

// ---- dense / grouped path ----

// out: (N, Cout, Ho, Wo); inp: (N, Cin, H, W); weight: (Cout, Cin/G, kh, kw); bias: (Cout) or null
void general_forward(float* out, const float* inp, const float* weight, const float* bias, const Geom& s) {
  const int64_t PT = s.tile(), tiles = (s.P + PT - 1) / PT;
  parallel_for(s.N * s.G * tiles, 1, [&](int64_t b, int64_t e) {
    std::vector<float>& buf = scratch_f32(0);
    std::vector<double>& acc = scratch_f64();
    buf.resize(s.K * PT);
    acc.resize(s.Cout_g * PT);
    for (int64_t task = b; task < e; ++task) {
      const int64_t t = task % tiles, ng = task / tiles, g = ng % s.G, n = ng / s.G;
      const int64_t p0 = t * PT, np = std::min(PT, s.P - p0);
      const float* x = inp + (n * s.Cin + g * s.Cin_g) * s.H * s.W;
      const float* col = x + p0;  // (K, P) in place for pointwise convs
      int64_t ldc = s.P;
      if (!s.pointwise()) {
        im2col(buf.data(), x, s, p0, np);
        col = buf.data();
        ldc = np;
      }
      // acc: (Cout_g, np) = W_g (Cout_g, K) x col (K, np)
      std::fill(acc.begin(), acc.begin() + s.Cout_g * np, 0.0);
      accumulate_rows(acc.data(), np, weight + g * s.Cout_g * s.K, s.K, 1, col, ldc, s.Cout_g, s.K, np);
      for (int64_t m = 0; m < s.Cout_g; ++m) {
        const int64_t co = g * s.Cout_g + m;
        const double b0 = bias ? bias[co] : 0.0;
        float* o = out + (n * s.Cout + co) * s.P + p0;
        for (int64_t q = 0; q < np; ++q) o[q] = static_cast<float>(acc[m * np + q] + b0);
      }
    }
  });
}

// dinp: (N, Cin, H, W), overwritten; dout: (N, Cout, Ho, Wo); weight: (Cout, Cin/G, kh, kw).
// One task per input plane: its kh*kw rows of dcol = W_g^T dout, folded back by col2im.
void general_backward_input(float* dinp, const float* dout, const float* weight, const Geom& s) {
  const int64_t PT = std::min<int64_t>(std::max<int64_t>(s.P, 1), kCols), tiles = (s.P + PT - 1) / PT;
  parallel_for(s.N * s.Cin, 1, [&](int64_t b, int64_t e) {
    std::vector<double>& acc = scratch_f64();
    acc.resize(PT);
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t c = nc % s.Cin, n = nc / s.Cin, g = c / s.Cin_g, ci = c % s.Cin_g;
      float* dx = dinp + nc * s.H * s.W;
      const float* d = dout + (n * s.Cout + g * s.Cout_g) * s.P;  // (Cout_g, P)
      const float* w = weight + g * s.Cout_g * s.K + ci * s.kk;   // column ci*kk of (Cout_g, K)
      if (!s.pointwise()) std::fill(dx, dx + s.H * s.W, 0.f);
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t p0 = t * PT, np = std::min(PT, s.P - p0);
        for (int64_t i = 0; i < s.kh; ++i)
          for (int64_t j = 0; j < s.kw; ++j) {
            std::fill(acc.begin(), acc.begin() + np, 0.0);
            accumulate_rows(acc.data(), np, w + i * s.kw + j, 0, s.K, d + p0, s.P, 1, s.Cout_g, np);
            if (s.pointwise()) {
              for (int64_t q = 0; q < np; ++q) dx[p0 + q] = static_cast<float>(acc[q]);
              continue;
            }
            int64_t ho = p0 / s.Wo, wo = p0 % s.Wo;
            for (int64_t q = 0; q < np; ++q) {
              const int64_t hi = ho * s.sh - s.ph + i, wi = wo * s.sw - s.pw + j;
              if (hi >= 0 && hi < s.H && wi >= 0 && wi < s.W) dx[hi * s.W + wi] += static_cast<float>(acc[q]);
              if (++wo == s.Wo) wo = 0, ++ho;
            }
          }
      }
    }
  });
}

// dweight: (Cout, Cin/G, kh, kw), overwritten; dout: (N, Cout, Ho, Wo); inp: (N, Cin, H, W).
// Tasks own disjoint blocks of output channels, so no two threads write one element.
void general_backward_weight(float* dweight, const float* dout, const float* inp, const Geom& s) {
  const int64_t PT = s.tile(), tiles = (s.P + PT - 1) / PT;
  const int64_t want = std::max<int64_t>(1, (4 * num_threads() + s.G - 1) / s.G);
  const int64_t blocks = std::min(std::max<int64_t>(s.Cout_g, 1), want), CB = (s.Cout_g + blocks - 1) / blocks;
  const int64_t per_group = (s.Cout_g + CB - 1) / CB;
  parallel_for(s.G * per_group, 1, [&](int64_t b, int64_t e) {
    std::vector<float>& colT = scratch_f32(0);
    std::vector<double>& acc = scratch_f64();
    colT.resize(PT * s.K);
    acc.resize(CB * s.K);
    for (int64_t task = b; task < e; ++task) {
      const int64_t g = task / per_group, co0 = g * s.Cout_g + (task % per_group) * CB;
      const int64_t co1 = std::min(co0 + CB, (g + 1) * s.Cout_g);
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t n = 0; n < s.N; ++n) {
        const float* x = inp + (n * s.Cin + g * s.Cin_g) * s.H * s.W;
        for (int64_t t = 0; t < tiles; ++t) {
          const int64_t p0 = t * PT, np = std::min(PT, s.P - p0);
          im2col_t(colT.data(), x, s, p0, np);
          accumulate_rows(acc.data(), s.K, dout + (n * s.Cout + co0) * s.P + p0, s.P, 1, colT.data(), s.K, co1 - co0, np, s.K);
        }
      }
      for (int64_t co = co0; co < co1; ++co)
        for (int64_t k = 0; k < s.K; ++k) dweight[co * s.K + k] = static_cast<float>(acc[(co - co0) * s.K + k]);
    }
  });
}

// dbias: (Cout), overwritten; dout: (N, Cout, Ho, Wo)
void bias_backward(float* dbias, const float* dout, const Geom& s) {
  parallel_for(s.Cout, 1, [&](int64_t b, int64_t e) {
    for (int64_t co = b; co < e; ++co) {
      double sum = 0.0;
      for (int64_t n = 0; n < s.N; ++n) {
        const float* d = dout + (n * s.Cout + co) * s.P;
        for (int64_t p0 = 0; p0 < s.P; p0 += kBlock) {
          float part = 0.f;
          for (int64_t p = p0; p < std::min(s.P, p0 + kBlock); ++p) part += d[p];
          sum += part;
        }
      }
      dbias[co] = static_cast<float>(sum);
    }
  });
}

}  // namespace

}  // namespace cpu

void cpu::conv2d_forward(float* out, const float* inp, const float* weight, const float* bias, const Conv2dShape& shape) {
  const Geom s(shape);
  if (s.depthwise()) depthwise_forward(out, inp, weight, bias, s);
  else general_forward(out, inp, weight, bias, s);
}

void cpu::conv2d_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                          const Conv2dShape& shape) {
  const Geom s(shape);
  if (dinp) {
    if (s.depthwise()) depthwise_backward_input(dinp, dout, weight, s);
    else general_backward_input(dinp, dout, weight, s);
  }
  if (dweight) {
    if (s.depthwise()) depthwise_backward_weight(dweight, dout, inp, s);
    else general_backward_weight(dweight, dout, inp, s);
  }
  if (dbias) bias_backward(dbias, dout, s);
}


namespace {

// The geometry both bindings read (fields N, Cin, H, W, Cout, kh, kw, strideH, strideW, padH,
// padW, groups), checked, and the element counts it gives.
struct ConvArgs {
  Conv2dShape shape;
  int64_t Cout, inp_numel, weight_numel, out_numel;
};

ConvArgs conv_args(const Args& a) {
  Conv2dShape c{a.size("N"), a.size("Cin"), a.size("H"), a.size("W"), a.size("Cout"), a.size("kh"), a.size("kw"),
                a.size("strideH"), a.size("strideW"), a.size("padH"), a.size("padW"), a.size("groups")};
  const int64_t limit = int64_t(1) << 31;
  for (int64_t v : {c.N, c.Cin, c.H, c.W, c.Cout, c.kh, c.kw, c.stride_h, c.stride_w, c.pad_h, c.pad_w, c.groups})
    if (v >= limit) a.fail("expected every size below 2^31 but received " + std::to_string(v));
  if (c.kh < 1) a.fail_arg("kh", "a positive integer", "0");
  if (c.kw < 1) a.fail_arg("kw", "a positive integer", "0");
  if (c.stride_h < 1) a.fail_arg("strideH", "a positive integer", "0");
  if (c.stride_w < 1) a.fail_arg("strideW", "a positive integer", "0");
  if (c.groups < 1) a.fail_arg("groups", "a positive integer", "0");
  if (c.Cin % c.groups) a.fail_arg("Cin", "a multiple of groups " + std::to_string(c.groups), std::to_string(c.Cin));
  if (c.Cout % c.groups) a.fail_arg("Cout", "a multiple of groups " + std::to_string(c.groups), std::to_string(c.Cout));
  if (c.H + 2 * c.pad_h < c.kh)
    a.fail_arg("kh", "at most the padded height " + std::to_string(c.H + 2 * c.pad_h), std::to_string(c.kh));
  if (c.W + 2 * c.pad_w < c.kw)
    a.fail_arg("kw", "at most the padded width " + std::to_string(c.W + 2 * c.pad_w), std::to_string(c.kw));
  const int64_t Ho = (c.H + 2 * c.pad_h - c.kh) / c.stride_h + 1;
  const int64_t Wo = (c.W + 2 * c.pad_w - c.kw) / c.stride_w + 1;
  return {c, c.Cout, a.product({c.N, c.Cin, c.H, c.W}), a.product({c.Cout, c.Cin / c.groups, c.kh, c.kw}),
          a.product({c.N, c.Cout, Ho, Wo})};
}

}  // namespace

// conv2d_forward({out, inp, weight, bias | null, N, Cin, H, W, Cout, kh, kw, strideH, strideW, padH, padW, groups})
static Napi::Value conv2d_forward(const Napi::CallbackInfo& info) {
  Args a(info, "conv2d_forward", Args::named);
  const ConvArgs c = conv_args(a);
  float* out = a.f32("out", c.out_numel);
  const float* inp = a.f32("inp", c.inp_numel);
  const float* weight = a.f32("weight", c.weight_numel);
  const float* bias = a.optional_f32("bias", c.Cout);
  a.check_distinct({{"out", out}}, {{"out", out}, {"inp", inp}, {"weight", weight}, {"bias", bias}});
  // No output: return before the kernels, whose loops run over the other sizes (huge padding
  // makes Ho * Wo huge even when N * Cout is 0).
  if (c.out_numel == 0) return info.Env().Undefined();
  REPMLP_DISPATCH(a, conv2d_forward, out, inp, weight, bias, c.shape);
  return info.Env().Undefined();
}

// conv2d_backward({dinp | null, dweight | null, dbias | null, dout, inp | null, weight | null,
//                  N, Cin, H, W, Cout, kh, kw, strideH, strideW, padH, padW, groups})
// inp is needed (and read) only for dweight, weight only for dinp.
static Napi::Value conv2d_backward(const Napi::CallbackInfo& info) {
  Args a(info, "conv2d_backward", Args::named);
  const ConvArgs c = conv_args(a);
  float* dinp = a.optional_f32("dinp", c.inp_numel);
  float* dweight = a.optional_f32("dweight", c.weight_numel);
  float* dbias = a.optional_f32("dbias", c.Cout);
  const float* dout = a.f32("dout", c.out_numel);
  const float* inp = dweight || !a.is_null("inp") ? a.f32("inp", c.inp_numel) : nullptr;
  const float* weight = dinp || !a.is_null("weight") ? a.f32("weight", c.weight_numel) : nullptr;
  a.check_distinct({{"dinp", dinp}, {"dweight", dweight}, {"dbias", dbias}},
                 {{"dinp", dinp}, {"dweight", dweight}, {"dbias", dbias}, {"dout", dout}, {"inp", inp}, {"weight", weight}});
  // Gradients with no elements are not computed (the kernels would loop over the other sizes,
  // and divide by Cout / groups); with an empty dout every gradient is 0.
  if (c.inp_numel == 0) dinp = nullptr;
  if (c.weight_numel == 0) dweight = nullptr;
  if (c.Cout == 0) dbias = nullptr;
  if (c.out_numel == 0) {
    if (dinp) a.zero(dinp, c.inp_numel);
    if (dweight) a.zero(dweight, c.weight_numel);
    if (dbias) a.zero(dbias, c.Cout);
    return info.Env().Undefined();
  }
  if (!dinp && !dweight && !dbias) return info.Env().Undefined();
  REPMLP_DISPATCH(a, conv2d_backward, dinp, dweight, dbias, dout, inp, weight, c.shape);
  return info.Env().Undefined();
}

void register_conv2d(Napi::Object exports) {
  REPMLP_EXPORT(exports, conv2d_forward);
  REPMLP_EXPORT(exports, conv2d_backward);
}

}  // namespace repmlp

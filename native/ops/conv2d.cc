// conv2d: PyTorch F.conv2d (cross-correlation, zero padding, stride, groups, optional bias)
// and its backward. Two CPU paths:
//   depthwise (groups == Cin == Cout): direct loops per (n, c) plane, in conv2d_depthwise.cc;
//   dense / grouped: per image and group, the packed GEMM of ops/gemm.cc over tiles of im2col
//     columns (1x1 stride-1 unpadded convs read the input in place): forward W x col, the
//     input's gradient W^T x dout folded back by col2im, the weights' dout x col^T summed
//     over the images.
// The GEMM never splits a sum across threads, and the tiles are cut the same way whatever the
// number of threads, so every result is summed in an order that does not depend on it.
#include <algorithm>
#include <vector>

#include "conv2d.h"
#include "gemm.h"
#include "../args.h"
#include "../parallel.h"
#include "conv2d_cpu.h"

namespace repmlp {
namespace cpu {

using namespace conv;
namespace {

constexpr int64_t kColFloats = int64_t(1) << 22;  // one im2col tile: 16 MB at most

// Output positions per im2col tile: all of them, or as many 64-column blocks as fit kColFloats.
int64_t col_tile(const Geom& s) {
  const int64_t fit = std::max<int64_t>(64, kColFloats / std::max<int64_t>(s.K, 1) / 64 * 64);
  return std::min(std::max<int64_t>(s.P, 1), fit);
}

// Rows [r0, r1) of col: (Cin_g * kh * kw, np), rows (ci, i, j), columns the output positions
// [p0, p0 + np); x: (Cin_g, H, W), one image's channels of one group.
void im2col_rows(float* col, const float* x, const Geom& s, int64_t p0, int64_t np, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t ci = r / s.kk, i = (r / s.kw) % s.kh, j = r % s.kw;
    const float* plane = x + ci * s.H * s.W;
    float* row = col + r * np;
    int64_t ho = p0 / s.Wo, wo = p0 % s.Wo;
    for (int64_t q = 0; q < np; ++q) {
      const int64_t hi = ho * s.sh - s.ph + i, wi = wo * s.sw - s.pw + j;
      row[q] = (hi >= 0 && hi < s.H && wi >= 0 && wi < s.W) ? plane[hi * s.W + wi] : 0.f;
      if (++wo == s.Wo) wo = 0, ++ho;
    }
  }
}

void im2col(float* col, const float* x, const Geom& s, int64_t p0, int64_t np) {
  parallel_for(s.K, std::max<int64_t>(1, 4096 / np), [&](int64_t r0, int64_t r1) { im2col_rows(col, x, s, p0, np, r0, r1); });
}

// dx: (Cin_g, H, W) += col2im of dcol: (Cin_g * kh * kw, np), columns [p0, p0 + np); one
// task per input plane, so no two threads write one element.
void col2im_add(float* dx, const float* dcol, const Geom& s, int64_t p0, int64_t np) {
  parallel_for(s.Cin_g, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t ci = c0; ci < c1; ++ci) {
      float* plane = dx + ci * s.H * s.W;
      for (int64_t i = 0; i < s.kh; ++i)
        for (int64_t j = 0; j < s.kw; ++j) {
          const float* row = dcol + ((ci * s.kh + i) * s.kw + j) * np;
          int64_t ho = p0 / s.Wo, wo = p0 % s.Wo;
          for (int64_t q = 0; q < np; ++q) {
            const int64_t hi = ho * s.sh - s.ph + i, wi = wo * s.sw - s.pw + j;
            if (hi >= 0 && hi < s.H && wi >= 0 && wi < s.W) plane[hi * s.W + wi] += row[q];
            if (++wo == s.Wo) wo = 0, ++ho;
          }
        }
    }
  });
}

// C (M, N) = op(A) (M, K) x op(B) (K, N) [+ C when accumulate] [+ bias per row]: one matrix.
void gemm(float* C, int64_t ldc, const float* A, int64_t lda, bool transA, const float* B, int64_t ldb, bool transB,
          int64_t M, int64_t N, int64_t K, bool accumulate, const float* row_bias = nullptr) {
  GemmEpilogue epi{};
  epi.bias = row_bias;
  const GemmBatched g{C, A, B, M, N, K, 1, transA, transB, 1.f, accumulate ? 1.f : 0.f, ldc, 0, lda, 0, ldb, 0};
  cpu::gemm_fused(GemmFused{g, false, false, {}, epi});
}

// The im2col tile of image n, group g, columns [p0, p0 + np) (K, ld): the input in place for
// a pointwise conv, else built in buf.
const float* col_of(std::vector<float>& buf, const float* inp, const Geom& s, int64_t n, int64_t g, int64_t p0, int64_t np,
                    int64_t* ld) {
  const float* x = inp + (n * s.Cin + g * s.Cin_g) * s.H * s.W;
  if (s.pointwise()) {
    *ld = s.P;
    return x + p0;
  }
  buf.resize(s.K * np);
  im2col(buf.data(), x, s, p0, np);
  *ld = np;
  return buf.data();
}

// ---- dense / grouped path ----

// out: (N, Cout, Ho, Wo); inp: (N, Cin, H, W); weight: (Cout, Cin/G, kh, kw); bias: (Cout) or null
void general_forward(float* out, const float* inp, const float* weight, const float* bias, const Geom& s) {
  const int64_t PT = col_tile(s);
  std::vector<float>& buf = scratch_f32(0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t g = 0; g < s.G; ++g)
      for (int64_t p0 = 0; p0 < s.P; p0 += PT) {
        const int64_t np = std::min(PT, s.P - p0);
        int64_t ld;
        const float* col = col_of(buf, inp, s, n, g, p0, np, &ld);
        // out[n, g] (Cout_g, np) = W_g (Cout_g, K) x col (K, np) + bias
        gemm(out + (n * s.Cout + g * s.Cout_g) * s.P + p0, s.P, weight + g * s.Cout_g * s.K, s.K, false, col, ld, false,
             s.Cout_g, np, s.K, false, bias ? bias + g * s.Cout_g : nullptr);
      }
}

// dinp: (N, Cin, H, W), overwritten; dout: (N, Cout, Ho, Wo); weight: (Cout, Cin/G, kh, kw).
// Per image, group and tile: dcol (K, np) = W_g^T x dout, folded back by col2im.
void general_backward_input(float* dinp, const float* dout, const float* weight, const Geom& s) {
  const int64_t PT = col_tile(s);
  std::vector<float>& dcol = scratch_f32(0);
  if (!s.pointwise()) {
    std::fill(dinp, dinp + s.N * s.Cin * s.H * s.W, 0.f);
    dcol.resize(s.K * PT);
  }
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t g = 0; g < s.G; ++g) {
      float* dx = dinp + (n * s.Cin + g * s.Cin_g) * s.H * s.W;
      const float* d = dout + (n * s.Cout + g * s.Cout_g) * s.P;  // (Cout_g, P)
      const float* w = weight + g * s.Cout_g * s.K;               // (Cout_g, K)
      if (s.pointwise()) {
        gemm(dx, s.P, w, s.K, true, d, s.P, false, s.K, s.P, s.Cout_g, false);
        continue;
      }
      for (int64_t p0 = 0; p0 < s.P; p0 += PT) {
        const int64_t np = std::min(PT, s.P - p0);
        gemm(dcol.data(), np, w, s.K, true, d + p0, s.P, false, s.K, np, s.Cout_g, false);
        col2im_add(dx, dcol.data(), s, p0, np);
      }
    }
}

// dweight: (Cout, Cin/G, kh, kw), overwritten; dout: (N, Cout, Ho, Wo); inp: (N, Cin, H, W).
// dW_g (Cout_g, K) = the sum over images and tiles of dout (Cout_g, np) x col^T (np, K).
void general_backward_weight(float* dweight, const float* dout, const float* inp, const Geom& s) {
  const int64_t PT = col_tile(s);
  std::vector<float>& buf = scratch_f32(0);
  for (int64_t g = 0; g < s.G; ++g)
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t p0 = 0; p0 < s.P; p0 += PT) {
        const int64_t np = std::min(PT, s.P - p0);
        int64_t ld;
        const float* col = col_of(buf, inp, s, n, g, p0, np, &ld);
        gemm(dweight + g * s.Cout_g * s.K, s.K, dout + (n * s.Cout + g * s.Cout_g) * s.P + p0, s.P, false, col, ld, true,
             s.Cout_g, s.K, np, n > 0 || p0 > 0);
      }
  if (s.N == 0 || s.P == 0) std::fill(dweight, dweight + s.Cout * s.K, 0.f);
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

// maxpool2d: PyTorch's F.max_pool2d(x, kernel, stride, padding) (dilation 1, floor mode) with
// return_indices, and its backward. Forward scans each window in row-major order and keeps
// the first maximum (a NaN wins and propagates, as in PyTorch). Backward gathers: each input
// element sums, in window order, the output gradients of the windows that cover it and chose
// it, so the indices are compared and never used as addresses (an index out of range
// contributes nothing), and no two threads write one element.
#include <algorithm>
#include <cmath>
#include <limits>

#include "maxpool.h"
#include "../args.h"
#include "../parallel.h"

namespace repmlp {
namespace cpu {

// The windows o in [lo, hi] (of n) along one axis that cover position i: o * stride - pad <= i
// <= o * stride - pad + k - 1.
static inline void covering(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t n, int64_t& lo, int64_t& hi) {
  const int64_t top = i + pad;  // >= 0
  lo = top < k ? 0 : (top - k) / stride + 1;
  hi = std::min(n - 1, top / stride);
}

}  // namespace cpu

void cpu::maxpool2d_forward(float* out, int64_t* indices, const float* inp, const PoolShape& s) {
  const int64_t plane_out = s.Ho * s.Wo;
  parallel_for(s.planes, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(plane_out * s.kh * s.kw, 1)), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* x = inp + p * s.H * s.W;
      for (int64_t ho = 0; ho < s.Ho; ++ho) {
        const int64_t h0 = std::max<int64_t>(0, ho * s.stride_h - s.pad_h), h1 = std::min(s.H, ho * s.stride_h - s.pad_h + s.kh);
        for (int64_t wo = 0; wo < s.Wo; ++wo) {
          const int64_t w0 = std::max<int64_t>(0, wo * s.stride_w - s.pad_w), w1 = std::min(s.W, wo * s.stride_w - s.pad_w + s.kw);
          int64_t best = h0 * s.W + w0;
          float v = x[best];
          for (int64_t hi = h0; hi < h1; ++hi)
            for (int64_t wi = w0; wi < w1; ++wi) {
              const float c = x[hi * s.W + wi];
              if (c > v || std::isnan(c)) v = c, best = hi * s.W + wi;
            }
          const int64_t o = p * plane_out + ho * s.Wo + wo;
          out[o] = v;
          if (indices) indices[o] = best;
        }
      }
    }
  });
}

void cpu::maxpool2d_backward(float* dinp, const float* dout, const int64_t* indices, const PoolShape& s) {
  const int64_t plane_in = s.H * s.W, plane_out = s.Ho * s.Wo;
  parallel_for(s.planes, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(plane_in, 1)), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* g = dout + p * plane_out;
      const int64_t* idx = indices + p * plane_out;
      for (int64_t hi = 0; hi < s.H; ++hi) {
        int64_t ho0, ho1;
        covering(hi, s.kh, s.stride_h, s.pad_h, s.Ho, ho0, ho1);
        for (int64_t wi = 0; wi < s.W; ++wi) {
          int64_t wo0, wo1;
          covering(wi, s.kw, s.stride_w, s.pad_w, s.Wo, wo0, wo1);
          const int64_t self = hi * s.W + wi;
          float acc = 0.f;
          for (int64_t ho = ho0; ho <= ho1; ++ho)
            for (int64_t wo = wo0; wo <= wo1; ++wo)
              if (idx[ho * s.Wo + wo] == self) acc += g[ho * s.Wo + wo];
          dinp[p * plane_in + self] = acc;
        }
      }
    }
  });
}


namespace {

// The geometry both bindings read (fields N, C, H, W, kh, kw, strideH, strideW, padH, padW),
// checked as PyTorch checks it, and the element counts it gives.
struct PoolArgs {
  PoolShape shape;
  int64_t inp_numel, out_numel;
};

PoolArgs pool_args(const Args& a) {
  const int64_t N = a.size("N"), C = a.size("C");
  PoolShape s{0, a.size("H"), a.size("W"), 0, 0, a.size("kh"), a.size("kw"), a.size("strideH"), a.size("strideW"),
              a.size("padH"), a.size("padW")};
  const int64_t limit = int64_t(1) << 31;
  for (int64_t v : {N, C, s.H, s.W, s.kh, s.kw, s.stride_h, s.stride_w, s.pad_h, s.pad_w})
    if (v >= limit) a.fail("expected every size below 2^31 but received " + std::to_string(v));
  if (s.H < 1 || s.W < 1) a.fail("expected a map of at least 1 x 1 but received " + std::to_string(s.H) + " x " + std::to_string(s.W));
  if (s.kh < 1) a.fail_arg("kh", "a positive integer", "0");
  if (s.kw < 1) a.fail_arg("kw", "a positive integer", "0");
  if (s.stride_h < 1) a.fail_arg("strideH", "a positive integer", "0");
  if (s.stride_w < 1) a.fail_arg("strideW", "a positive integer", "0");
  if (2 * s.pad_h > s.kh) a.fail_arg("padH", "at most half of kh " + std::to_string(s.kh), std::to_string(s.pad_h));
  if (2 * s.pad_w > s.kw) a.fail_arg("padW", "at most half of kw " + std::to_string(s.kw), std::to_string(s.pad_w));
  if (s.H + 2 * s.pad_h < s.kh) a.fail_arg("kh", "at most the padded height " + std::to_string(s.H + 2 * s.pad_h), std::to_string(s.kh));
  if (s.W + 2 * s.pad_w < s.kw) a.fail_arg("kw", "at most the padded width " + std::to_string(s.W + 2 * s.pad_w), std::to_string(s.kw));
  s.Ho = (s.H + 2 * s.pad_h - s.kh) / s.stride_h + 1;
  s.Wo = (s.W + 2 * s.pad_w - s.kw) / s.stride_w + 1;
  s.planes = a.product({N, C});
  return {s, a.product({s.planes, s.H, s.W}), a.product({s.planes, s.Ho, s.Wo})};
}

}  // namespace

// maxpool2d_forward({out, indices | null, inp, N, C, H, W, kh, kw, strideH, strideW, padH, padW})
static Napi::Value maxpool2d_forward(const Napi::CallbackInfo& info) {
  Args a(info, "maxpool2d_forward", Args::named);
  const PoolArgs p = pool_args(a);
  float* out = a.f32("out", p.out_numel);
  int64_t* indices = a.optional_i64("indices", p.out_numel);
  const float* inp = a.f32("inp", p.inp_numel);
  a.check_distinct({{"out", out}, {"indices", indices}}, {{"out", out}, {"indices", indices}, {"inp", inp}});
  if (p.out_numel == 0) return info.Env().Undefined();
  REPMLP_DISPATCH(a, maxpool2d_forward, out, indices, inp, p.shape);
  return info.Env().Undefined();
}

// maxpool2d_backward({dinp, dout, indices, N, C, H, W, kh, kw, strideH, strideW, padH, padW})
static Napi::Value maxpool2d_backward(const Napi::CallbackInfo& info) {
  Args a(info, "maxpool2d_backward", Args::named);
  const PoolArgs p = pool_args(a);
  float* dinp = a.f32("dinp", p.inp_numel);
  const float* dout = a.f32("dout", p.out_numel);
  const int64_t* indices = a.i64("indices", p.out_numel);
  a.check_distinct({{"dinp", dinp}}, {{"dinp", dinp}, {"dout", dout}, {"indices", indices}});
  if (p.inp_numel == 0) return info.Env().Undefined();
  REPMLP_DISPATCH(a, maxpool2d_backward, dinp, dout, indices, p.shape);
  return info.Env().Undefined();
}

void register_maxpool(Napi::Object exports) {
  REPMLP_EXPORT(exports, maxpool2d_forward);
  REPMLP_EXPORT(exports, maxpool2d_backward);
}

}  // namespace repmlp

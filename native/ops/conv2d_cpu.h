// Shared by the conv2d CPU kernels (conv2d.cc: dense and grouped convs and the bindings;
// conv2d_depthwise.cc: groups == Cin == Cout): the geometry of a call and small helpers.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "conv2d.h"

namespace repmlp::cpu::conv {

constexpr int64_t kBlock = 64;   // terms summed in float before joining a double accumulator

struct Geom {
  int64_t N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, G;
  int64_t Ho, Wo, P, Cin_g, Cout_g, kk, K;  // P = Ho*Wo, kk = kh*kw, K = Cin_g*kk

  explicit Geom(const Conv2dShape& c)
      : N(c.N), Cin(c.Cin), H(c.H), W(c.W), Cout(c.Cout), kh(c.kh), kw(c.kw), sh(c.stride_h), sw(c.stride_w),
        ph(c.pad_h), pw(c.pad_w), G(c.groups) {
    Ho = (H + 2 * ph - kh) / sh + 1;
    Wo = (W + 2 * pw - kw) / sw + 1;
    P = Ho * Wo;
    Cin_g = Cin / G;
    Cout_g = Cout / G;
    kk = kh * kw;
    K = Cin_g * kk;
  }
  bool depthwise() const { return G == Cin && G == Cout; }
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

// The outputs o in [0, n_out) whose input position o * stride + shift lies in [0, n_in):
// [lo, hi) (empty when hi <= lo).
inline void valid_range(int64_t n_out, int64_t stride, int64_t shift, int64_t n_in, int64_t& lo, int64_t& hi) {
  lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
  const int64_t top = n_in - 1 - shift;
  hi = top < 0 ? 0 : std::min(n_out, top / stride + 1);
  if (hi < lo) hi = lo;
}

// Thread-local scratch buffers (slot 0 or 1), grown as needed and kept between calls.
inline std::vector<float>& scratch_f32(int slot) {
  thread_local std::vector<float> buf[2];
  return buf[slot];
}

// out: (N, C, Ho, Wo); inp: (N, C, H, W); weight: (C, 1, kh, kw); bias: (C) or null
void depthwise_forward(float* out, const float* inp, const float* weight, const float* bias, const Geom& s);
// dinp: (N, C, H, W), overwritten; dout: (N, C, Ho, Wo); weight: (C, 1, kh, kw)
void depthwise_backward_input(float* dinp, const float* dout, const float* weight, const Geom& s);
// dweight: (C, 1, kh, kw), overwritten; dout: (N, C, Ho, Wo); inp: (N, C, H, W)
void depthwise_backward_weight(float* dweight, const float* dout, const float* inp, const Geom& s);

}  // namespace repmlp::cpu::conv

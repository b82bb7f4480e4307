// conv2d with groups == Cin == Cout (depthwise): every (n, c) plane is convolved with its
// own kh x kw kernel. Two ways to run a plane:
//   rows: the window loops outside and the output row inside, so the row loop vectorises;
//     right for wide maps and any stride.
//   flat: for stride 1 and narrow maps (RepMLP's branches on 16x16, 8x8, 4x4, 7x7 share-set
//     planes), where the rows are too short to vectorise and the per-row bookkeeping costs
//     more than the arithmetic. The plane is copied into a zero-padded buffer of width
//     Wp = W + 2 pw, and the output is computed on the same width: output q = ho * Wp + wo
//     reads input q + i * Wp + j for tap (i, j), so each tap is one contiguous loop over the
//     whole plane; the Wp - Wo extra columns per row are discarded (forward) or kept at zero
//     (backward).
// Sums follow the same rules as conv2d.cc: float over short runs, double across them, in an
// order that does not depend on the thread count.
#include <algorithm>
#include <vector>

#include "../parallel.h"
#include "../cpu_isa.h"
#include "conv2d_cpu.h"

namespace repmlp::cpu::conv {
namespace {

// out: (N, C, Ho, Wo); inp: (N, C, H, W); weight: (C, 1, kh, kw); bias: (C) or null
void forward_rows(float* out, const float* inp, const float* weight, const float* bias, const Geom& s) {
  parallel_for(s.N * s.Cin, 1, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t c = nc % s.Cin;
      const float* x = inp + nc * s.H * s.W;
      const float* w = weight + c * s.kk;
      float* o = out + nc * s.P;
      const float b0 = bias ? bias[c] : 0.f;
      for (int64_t ho = 0; ho < s.Ho; ++ho) {
        float* __restrict orow = o + ho * s.Wo;
        for (int64_t wo = 0; wo < s.Wo; ++wo) orow[wo] = b0;
        for (int64_t i = 0; i < s.kh; ++i) {
          const int64_t hi = ho * s.sh - s.ph + i;
          if (hi < 0 || hi >= s.H) continue;
          const float* __restrict xrow = x + hi * s.W;
          for (int64_t j = 0; j < s.kw; ++j) {
            const float wv = w[i * s.kw + j];
            const int64_t off = j - s.pw;
            int64_t lo, hi_;
            valid_range(s.Wo, s.sw, off, s.W, lo, hi_);
            if (s.sw == 1)
              for (int64_t wo = lo; wo < hi_; ++wo) orow[wo] += wv * xrow[wo + off];
            else
              for (int64_t wo = lo; wo < hi_; ++wo) orow[wo] += wv * xrow[wo * s.sw + off];
          }
        }
      }
    }
  });
}

// dinp: (N, C, H, W), overwritten; dout: (N, C, Ho, Wo); weight: (C, 1, kh, kw)
void backward_input_rows(float* dinp, const float* dout, const float* weight, const Geom& s) {
  parallel_for(s.N * s.Cin, 1, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t c = nc % s.Cin;
      float* dx = dinp + nc * s.H * s.W;
      const float* d = dout + nc * s.P;
      const float* w = weight + c * s.kk;
      std::fill(dx, dx + s.H * s.W, 0.f);
      for (int64_t ho = 0; ho < s.Ho; ++ho) {
        const float* __restrict drow = d + ho * s.Wo;
        for (int64_t i = 0; i < s.kh; ++i) {
          const int64_t hi = ho * s.sh - s.ph + i;
          if (hi < 0 || hi >= s.H) continue;
          float* __restrict dxrow = dx + hi * s.W;
          for (int64_t j = 0; j < s.kw; ++j) {
            const float wv = w[i * s.kw + j];
            const int64_t off = j - s.pw;
            int64_t lo, hi_;
            valid_range(s.Wo, s.sw, off, s.W, lo, hi_);
            if (s.sw == 1)
              for (int64_t wo = lo; wo < hi_; ++wo) dxrow[wo + off] += wv * drow[wo];
            else
              for (int64_t wo = lo; wo < hi_; ++wo) dxrow[wo * s.sw + off] += wv * drow[wo];
          }
        }
      }
    }
  });
}

// dweight: (C, 1, kh, kw), overwritten, from plane(acc, n, c), which adds the (n, c) plane's
// contribution to acc (kh, kw) in double. The batch is cut into a fixed number of slices (not
// the thread count), each summed in order, then the slices in order.
template <typename Plane>
void weight_grad_by_slices(float* dweight, const Geom& s, Plane plane) {
  const int64_t C = s.Cin, slices = std::max<int64_t>(1, std::min<int64_t>(s.N, 8));
  std::vector<double> partial(C * slices * s.kk, 0.0);  // (C, slices, kh, kw)
  parallel_for(C * slices, 1, [&](int64_t b, int64_t e) {
    for (int64_t cs = b; cs < e; ++cs) {
      const int64_t c = cs / slices, sl = cs % slices;
      for (int64_t n = s.N * sl / slices; n < s.N * (sl + 1) / slices; ++n) plane(partial.data() + cs * s.kk, n, c);
    }
  });
  for (int64_t c = 0; c < C; ++c)
    for (int64_t k = 0; k < s.kk; ++k) {
      double sum = 0.0;
      for (int64_t sl = 0; sl < slices; ++sl) sum += partial[(c * slices + sl) * s.kk + k];
      dweight[c * s.kk + k] = static_cast<float>(sum);
    }
}

// dweight: (C, 1, kh, kw), overwritten; dout: (N, C, Ho, Wo); inp: (N, C, H, W)
void backward_weight_rows(float* dweight, const float* dout, const float* inp, const Geom& s) {
  weight_grad_by_slices(dweight, s, [&](double* acc, int64_t n, int64_t c) {
    std::vector<float>& tmp = scratch_f32(0);
    tmp.resize(s.Wo);
    const float* x = inp + (n * s.Cin + c) * s.H * s.W;
    const float* d = dout + (n * s.Cin + c) * s.P;
    for (int64_t i = 0; i < s.kh; ++i) {
      int64_t hlo, hhi;
      valid_range(s.Ho, s.sh, i - s.ph, s.H, hlo, hhi);
      for (int64_t j = 0; j < s.kw; ++j) {
        const int64_t off = j - s.pw;
        int64_t lo, hi_;
        valid_range(s.Wo, s.sw, off, s.W, lo, hi_);
        double sum = 0.0;
        for (int64_t h0 = hlo; h0 < hhi; h0 += kBlock) {
          float* __restrict t = tmp.data();
          for (int64_t wo = lo; wo < hi_; ++wo) t[wo] = 0.f;
          for (int64_t ho = h0; ho < std::min(hhi, h0 + kBlock); ++ho) {
            const float* __restrict drow = d + ho * s.Wo;
            const float* __restrict xrow = x + (ho * s.sh - s.ph + i) * s.W;
            if (s.sw == 1)
              for (int64_t wo = lo; wo < hi_; ++wo) t[wo] += drow[wo] * xrow[wo + off];
            else
              for (int64_t wo = lo; wo < hi_; ++wo) t[wo] += drow[wo] * xrow[wo * s.sw + off];
          }
          for (int64_t wo = lo; wo < hi_; ++wo) sum += t[wo];
        }
        acc[i * s.kw + j] += sum;
      }
    }
  });
}

// ---- flat: stride 1, narrow planes ----

bool use_flat(const Geom& s) { return s.sh == 1 && s.sw == 1 && s.Wo <= 32 && s.kw <= s.W + 2 * s.pw; }

// The padded plane geometry: width Wp, and Hp + 1 rows (the extra row keeps the reads of the
// discarded columns of the last output row inside the buffer).
struct Flat {
  int64_t Wp, Hp, padded, ext;  // padded = (Hp + 1) * Wp floats; ext = Ho * Wp
  explicit Flat(const Geom& s) : Wp(s.W + 2 * s.pw), Hp(s.H + 2 * s.ph), padded((Hp + 1) * Wp), ext(s.Ho * Wp) {}
};

// xp: ((Hp + 1) * Wp) <- x (H, W) placed at (ph, pw), zeros around.
void pad_plane(float* xp, const float* x, const Geom& s, const Flat& f) {
  std::fill(xp, xp + f.padded, 0.f);
  for (int64_t h = 0; h < s.H; ++h) std::copy(x + h * s.W, x + (h + 1) * s.W, xp + (h + s.ph) * f.Wp + s.pw);
}

// dp: (Ho * Wp) <- d (Ho, Wo) with zeros in columns [Wo, Wp).
void widen_plane(float* dp, const float* d, const Geom& s, const Flat& f) {
  for (int64_t ho = 0; ho < s.Ho; ++ho) {
    std::copy(d + ho * s.Wo, d + (ho + 1) * s.Wo, dp + ho * f.Wp);
    std::fill(dp + ho * f.Wp + s.Wo, dp + (ho + 1) * f.Wp, 0.f);
  }
}

// The taps' loops of one padded plane, compiled for AVX2 + FMA and baseline x86-64 (the
// loader picks one): each tap is one vector loop over the whole plane.
// acc (ext) += sum over taps of w[i, j] * xp[q + i * Wp + j]
REPMLP_VECTOR_CLONES void taps_forward(float* __restrict acc,
                                       const float* __restrict xp,
                                       const float* w, const Geom& s,
                                       const Flat& f) {
  for (int64_t i = 0; i < s.kh; ++i)
    for (int64_t j = 0; j < s.kw; ++j) {
      const float wv = w[i * s.kw + j];
      const float* __restrict x = xp + i * f.Wp + j;
      for (int64_t q = 0; q < f.ext; ++q) acc[q] += wv * x[q];
    }
}

// dxp[q + i * Wp + j] += w[i, j] * dp[q] for every tap
REPMLP_VECTOR_CLONES void taps_backward_input(float* __restrict dxp,
                                              const float* __restrict dp,
                                              const float* w, const Geom& s,
                                              const Flat& f) {
  for (int64_t i = 0; i < s.kh; ++i)
    for (int64_t j = 0; j < s.kw; ++j) {
      const float wv = w[i * s.kw + j];
      float* __restrict dx = dxp + i * f.Wp + j;
      for (int64_t q = 0; q < f.ext; ++q) dx[q] += wv * dp[q];
    }
}

// acc[i, j] += sum_q dp[q] * xp[q + i * Wp + j]: eight float lanes over the plane (at most
// 32 x 34 values), joined in double.
REPMLP_VECTOR_CLONES void taps_backward_weight(double* acc,
                                               const float* __restrict xp,
                                               const float* __restrict dp,
                                               const Geom& s, const Flat& f) {
  for (int64_t i = 0; i < s.kh; ++i)
    for (int64_t j = 0; j < s.kw; ++j) {
      const float* __restrict x = xp + i * f.Wp + j;
      float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t q = 0;
      for (; q + 8 <= f.ext; q += 8)
        for (int k = 0; k < 8; ++k) lane[k] += dp[q + k] * x[q + k];
      double sum = 0.0;
      for (; q < f.ext; ++q) sum += static_cast<double>(dp[q]) * x[q];
      for (int k = 0; k < 8; ++k) sum += lane[k];
      acc[i * s.kw + j] += sum;
    }
}

// Runs plane(nc, padded, ext) for every (n, c) plane in parallel, with this thread's two
// buffers: padded ((Hp + 1) * Wp floats) and ext (Ho * Wp floats).
template <typename Plane>
void for_each_plane(const Geom& s, const Flat& f, Plane plane) {
  parallel_for(s.N * s.Cin, 1, [&](int64_t b, int64_t e) {
    std::vector<float>& buf = scratch_f32(0);
    buf.resize(f.padded + f.ext);
    for (int64_t nc = b; nc < e; ++nc) plane(nc, buf.data(), buf.data() + f.padded);
  });
}

void forward_flat(float* out, const float* inp, const float* weight, const float* bias, const Geom& s) {
  const Flat f(s);
  for_each_plane(s, f, [&](int64_t nc, float* __restrict xp, float* __restrict acc) {
    const int64_t c = nc % s.Cin;
    const float* w = weight + c * s.kk;
    pad_plane(xp, inp + nc * s.H * s.W, s, f);
    std::fill(acc, acc + f.ext, bias ? bias[c] : 0.f);
    taps_forward(acc, xp, w, s, f);
    float* o = out + nc * s.P;
    for (int64_t ho = 0; ho < s.Ho; ++ho) std::copy(acc + ho * f.Wp, acc + ho * f.Wp + s.Wo, o + ho * s.Wo);
  });
}

void backward_input_flat(float* dinp, const float* dout, const float* weight, const Geom& s) {
  const Flat f(s);
  for_each_plane(s, f, [&](int64_t nc, float* __restrict dxp, float* __restrict dp) {
    const int64_t c = nc % s.Cin;
    const float* w = weight + c * s.kk;
    widen_plane(dp, dout + nc * s.P, s, f);
    std::fill(dxp, dxp + f.padded, 0.f);
    taps_backward_input(dxp, dp, w, s, f);
    float* dx = dinp + nc * s.H * s.W;
    for (int64_t h = 0; h < s.H; ++h) {
      const float* row = dxp + (h + s.ph) * f.Wp + s.pw;
      std::copy(row, row + s.W, dx + h * s.W);
    }
  });
}

void backward_weight_flat(float* dweight, const float* dout, const float* inp, const Geom& s) {
  const Flat f(s);
  weight_grad_by_slices(dweight, s, [&](double* acc, int64_t n, int64_t c) {
    std::vector<float>& buf = scratch_f32(0);
    buf.resize(f.padded + f.ext);
    float* __restrict xp = buf.data();
    float* __restrict dp = xp + f.padded;
    pad_plane(xp, inp + (n * s.Cin + c) * s.H * s.W, s, f);
    widen_plane(dp, dout + (n * s.Cin + c) * s.P, s, f);
    taps_backward_weight(acc, xp, dp, s, f);
  });
}

}  // namespace

void depthwise_forward(float* out, const float* inp, const float* weight, const float* bias, const Geom& s) {
  if (use_flat(s)) forward_flat(out, inp, weight, bias, s);
  else forward_rows(out, inp, weight, bias, s);
}

void depthwise_backward_input(float* dinp, const float* dout, const float* weight, const Geom& s) {
  if (use_flat(s)) backward_input_flat(dinp, dout, weight, s);
  else backward_input_rows(dinp, dout, weight, s);
}

void depthwise_backward_weight(float* dweight, const float* dout, const float* inp, const Geom& s) {
  if (use_flat(s)) backward_weight_flat(dweight, dout, inp, s);
  else backward_weight_rows(dweight, dout, inp, s);
}

}  // namespace repmlp::cpu::conv

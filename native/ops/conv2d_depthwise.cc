// conv2d with groups == Cin == Cout (depthwise): every (n, c) plane is convolved with its
// own kh x kw kernel. Two ways to run a plane:
//   rows: the window loops outside and the output row inside, so the row loop vectorises;
//     right for wide maps and any stride.
//   flat: for stride 1 and narrow maps (RepMLP's branches on 16x16, 8x8, 4x4, 7x7 share-set
//     planes), where the rows are too short to vectorise and the per-row bookkeeping costs
//     more than the arithmetic. The plane is copied into a zero-padded buffer of width
//     Wp = W + 2 pw, and the output is computed on the same width: output q = ho * Wp + wo
//     reads input q + i * Wp + j for tap (i, j), so each tap is one contiguous run over the
//     whole plane; the Wp - Wo extra columns per row are discarded (forward) or kept at zero
//     (weight gradient). The input gradient is the forward conv of dout with the kernel
//     rotated (backward_input_flat).
// Sums follow the same rules as conv2d.cc: float over short runs, double across them, in an
// order that does not depend on the thread count.
#include <algorithm>
#include <vector>

#include "../parallel.h"
#include "../cpu_isa.h"
#include "conv2d_cpu.h"
#include "simd.h"

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

// dst[0..n) = src[0..n) in 8-float moves: a plane's rows are 4 to 32 floats, where a call of
// memmove per row (what std::copy compiles to) costs more than the copy itself. (CMakeLists.txt
// builds this file with -fno-tree-loop-distribute-patterns, so that GCC does not turn these
// loops back into such calls.)
inline __attribute__((always_inline)) void copy_row(float* __restrict dst, const float* __restrict src, int64_t n) {
  int64_t w = 0;
  for (; w + 8 <= n; w += 8) storev(dst + w, loadv<v8f>(src + w));
  for (; w < n; ++w) dst[w] = src[w];
}

// xp: ((Hp + 1) * Wp) <- x (H, W) placed at (ph, pw), zeros around.
inline __attribute__((always_inline)) void pad_plane(float* __restrict xp, const float* __restrict x, const Geom& s,
                                                     const Flat& f) {
  std::fill(xp, xp + f.padded, 0.f);
  for (int64_t h = 0; h < s.H; ++h) copy_row(xp + (h + s.ph) * f.Wp + s.pw, x + h * s.W, s.W);
}

// dp: (Ho * Wp) <- d (Ho, Wo) with zeros in columns [Wo, Wp).
inline __attribute__((always_inline)) void widen_plane(float* __restrict dp, const float* __restrict d, const Geom& s,
                                                       const Flat& f) {
  for (int64_t ho = 0; ho < s.Ho; ++ho) {
    copy_row(dp + ho * f.Wp, d + ho * s.Wo, s.Wo);
    for (int64_t w = s.Wo; w < f.Wp; ++w) dp[ho * f.Wp + w] = 0.f;
  }
}

// The planes' kernels, compiled as REPMLP_VECTOR_CLONES (the loader picks one).
// out (Ho, Wo) = bias + sum over taps of w[i, j] * x padded, read at q + i * Wp + j; acc:
// (ext). Sixteen outputs at a time summed over every tap in a register.
REPMLP_VECTOR_CLONES void plane_forward(float* __restrict out, const float* __restrict x, float* __restrict xp,
                                        float* __restrict acc, const float* w, float bias, const Geom& s,
                                        const Flat& f) {
  pad_plane(xp, x, s, f);
  int64_t q = 0;
  for (; q + 16 <= f.ext; q += 16) {
    v16f a = bias - v16f{};
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j) a += w[i * s.kw + j] * loadv<v16f>(xp + i * f.Wp + j + q);
    storev(acc + q, a);
  }
  for (; q < f.ext; ++q) {
    float a = bias;
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j) a += w[i * s.kw + j] * xp[i * f.Wp + j + q];
    acc[q] = a;
  }
  for (int64_t ho = 0; ho < s.Ho; ++ho) copy_row(out + ho * s.Wo, acc + ho * f.Wp, s.Wo);
}

// acc[t] += sum_q dp[q] * xp[q + i * Wp + j] for every tap t = (i, j), x padded into xp and
// dout widened into dp. Four taps per pass over the plane, each on sixteen float lanes: four
// independent chains of multiply-adds, where one tap at a time would wait on its own. Each
// lane sums Ho * Wp / 16 terms in float (18 on a 16 x 16 plane), joined in double per plane.
REPMLP_VECTOR_CLONES void plane_backward_weight(double* acc, const float* __restrict x, const float* __restrict d,
                                                float* __restrict xp, float* __restrict dp, const Geom& s,
                                                const Flat& f) {
  constexpr int T = 4;
  pad_plane(xp, x, s, f);
  widen_plane(dp, d, s, f);
  for (int64_t t0 = 0; t0 < s.kk; t0 += T) {
    const int nt = static_cast<int>(std::min<int64_t>(T, s.kk - t0));
    const float* xt[T];
    for (int t = 0; t < T; ++t) {  // a group short of T taps repeats its last one, left out below
      const int64_t tap = t0 + std::min(t, nt - 1);
      xt[t] = xp + (tap / s.kw) * f.Wp + tap % s.kw;
    }
    v16f lane[T] = {};
    int64_t q = 0;
    for (; q + 16 <= f.ext; q += 16) {
      const v16f dv = loadv<v16f>(dp + q);
      for (int t = 0; t < T; ++t) lane[t] += dv * loadv<v16f>(xt[t] + q);
    }
    for (int t = 0; t < nt; ++t) {
      double sum = 0.0;
      for (int64_t r = q; r < f.ext; ++r) sum += static_cast<double>(dp[r]) * xt[t][r];
      for (int l = 0; l < 16; ++l) sum += lane[t][l];
      acc[t0 + t] += sum;
    }
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
  for_each_plane(s, f, [&](int64_t nc, float* xp, float* acc) {
    const int64_t c = nc % s.Cin;
    plane_forward(out + nc * s.P, inp + nc * s.H * s.W, xp, acc, weight + c * s.kk, bias ? bias[c] : 0.f, s, f);
  });
}

// The input gradient of a stride-1 depthwise conv is the forward conv of dout with each
// kernel rotated by 180 degrees and padding k - 1 - p (an output of H x W again): the forward's
// register-summed planes, with no scattered adds. That conv's geometry:
Geom rotated_geom(const Geom& s) {
  return Geom(Conv2dShape{s.N, s.Cin, s.Ho, s.Wo, s.Cout, s.kh, s.kw, 1, 1, s.kh - 1 - s.ph, s.kw - 1 - s.pw, s.G});
}

// Whether backward_input_flat applies: stride 1, p < k on both axes, and a flat plane.
bool rotated_fits(const Geom& s) { return s.sh == 1 && s.sw == 1 && s.ph < s.kh && s.pw < s.kw && use_flat(rotated_geom(s)); }

void backward_input_flat(float* dinp, const float* dout, const float* weight, const Geom& s) {
  std::vector<float> rotated(s.Cin * s.kk);  // rotated[c][i][j] = weight[c][kh-1-i][kw-1-j]
  for (int64_t c = 0; c < s.Cin; ++c)
    for (int64_t k = 0; k < s.kk; ++k) rotated[c * s.kk + k] = weight[c * s.kk + s.kk - 1 - k];
  forward_flat(dinp, dout, rotated.data(), nullptr, rotated_geom(s));
}

void backward_weight_flat(float* dweight, const float* dout, const float* inp, const Geom& s) {
  const Flat f(s);
  weight_grad_by_slices(dweight, s, [&](double* acc, int64_t n, int64_t c) {
    std::vector<float>& buf = scratch_f32(0);
    buf.resize(f.padded + f.ext);
    const int64_t nc = n * s.Cin + c;
    plane_backward_weight(acc, inp + nc * s.H * s.W, dout + nc * s.P, buf.data(), buf.data() + f.padded, s, f);
  });
}

}  // namespace

void depthwise_forward(float* out, const float* inp, const float* weight, const float* bias, const Geom& s) {
  if (use_flat(s)) forward_flat(out, inp, weight, bias, s);
  else forward_rows(out, inp, weight, bias, s);
}

void depthwise_backward_input(float* dinp, const float* dout, const float* weight, const Geom& s) {
  if (rotated_fits(s)) backward_input_flat(dinp, dout, weight, s);
  else backward_input_rows(dinp, dout, weight, s);
}

void depthwise_backward_weight(float* dweight, const float* dout, const float* inp, const Geom& s) {
  if (use_flat(s)) backward_weight_flat(dweight, dout, inp, s);
  else backward_weight_rows(dweight, dout, inp, s);
}

}  // namespace repmlp::cpu::conv

// CUDA twin of ops/conv2d.cc: F.conv2d (stride, zero padding, groups, optional bias) and
// its backward. Forward and dinp: one thread per output / input element, gathering over its
// window (no atomics). dweight and dbias: deterministic block reductions over (n, ho, wo);
// when there are few such sums (a depthwise branch over S = 1..8 share-sets has 1-72 weights
// over millions of terms) each is cut into parts reduced by their own blocks and added in
// order by a second kernel, with the cut a function of the shapes alone. Sums run in float
// over blocks of kBlock terms that are then added in double, as on the CPU.
#include <algorithm>

#include "block_reduce.cuh"
#include "../ops/conv2d.h"
#include "check.cuh"
#include "scratch.cuh"

namespace repmlp {
namespace cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kBlock = 64;

// The shapes in the kernels' index type I: int whenever every index fits (see with_geom),
// else int64_t (64-bit division is many instructions on a GPU, and these kernels divide
// several times per element).
template <typename I>
struct GeomT {
  I N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, G;
  I Ho, Wo, P, Cin_g, Cout_g, K;  // P = Ho*Wo, K = Cin_g*kh*kw
};
using Geom = GeomT<int64_t>;

Geom make_geom(const Conv2dShape& c) {
  Geom s{c.N, c.Cin, c.H, c.W, c.Cout, c.kh, c.kw, c.stride_h, c.stride_w, c.pad_h, c.pad_w, c.groups, 0, 0, 0, 0, 0, 0};
  s.Ho = (s.H + 2 * s.ph - s.kh) / s.sh + 1;
  s.Wo = (s.W + 2 * s.pw - s.kw) / s.sw + 1;
  s.P = s.Ho * s.Wo;
  s.Cin_g = s.Cin / s.G;
  s.Cout_g = s.Cout / s.G;
  s.K = s.Cin_g * s.kh * s.kw;
  return s;
}

// A float sum flushed into a double every kBlock terms.
struct BlockedSum {
  double total = 0.0;
  float part = 0.f;
  int count = 0;
  __device__ void add(float v) {
    part += v;
    if (++count == kBlock) {
      total += part;
      part = 0.f;
      count = 0;
    }
  }
  __device__ double value() const { return total + part; }
};

// out: (N, Cout, Ho, Wo); inp: (N, Cin, H, W); weight: (Cout, Cin_g, kh, kw); bias: (Cout) or null
template <typename I>
__global__ void conv2d_forward_kernel(float* out, const float* inp, const float* weight, const float* bias, GeomT<I> s) {
  const I total = s.N * s.Cout * s.P;
  for (I idx = blockIdx.x * (I)blockDim.x + threadIdx.x; idx < total; idx += (I)gridDim.x * blockDim.x) {
    const I wo = idx % s.Wo, ho = (idx / s.Wo) % s.Ho, co = (idx / s.P) % s.Cout, n = idx / (s.P * s.Cout);
    const I g = co / s.Cout_g;
    const float* x = inp + (n * s.Cin + g * s.Cin_g) * s.H * s.W;
    const float* w = weight + co * s.K;
    BlockedSum acc;
    for (I ci = 0; ci < s.Cin_g; ++ci)
      for (I i = 0; i < s.kh; ++i) {
        const I hi = ho * s.sh - s.ph + i;
        if (hi < 0 || hi >= s.H) continue;
        for (I j = 0; j < s.kw; ++j) {
          const I wi = wo * s.sw - s.pw + j;
          if (wi < 0 || wi >= s.W) continue;
          acc.add(w[(ci * s.kh + i) * s.kw + j] * x[(ci * s.H + hi) * s.W + wi]);
        }
      }
    out[idx] = (float)(acc.value() + (bias ? (double)bias[co] : 0.0));
  }
}

// dinp: (N, Cin, H, W); dout: (N, Cout, Ho, Wo); weight: (Cout, Cin_g, kh, kw).
// Each input element gathers the outputs whose window covers it.
template <typename I>
__global__ void conv2d_backward_input_kernel(float* dinp, const float* dout, const float* weight, GeomT<I> s) {
  const I total = s.N * s.Cin * s.H * s.W;
  for (I idx = blockIdx.x * (I)blockDim.x + threadIdx.x; idx < total; idx += (I)gridDim.x * blockDim.x) {
    const I wi = idx % s.W, hi = (idx / s.W) % s.H, c = (idx / (s.H * s.W)) % s.Cin, n = idx / (s.H * s.W * s.Cin);
    const I g = c / s.Cin_g, ci = c % s.Cin_g;
    BlockedSum acc;
    for (I co = g * s.Cout_g; co < (g + 1) * s.Cout_g; ++co) {
      const float* d = dout + (n * s.Cout + co) * s.P;
      const float* w = weight + (co * s.Cin_g + ci) * s.kh * s.kw;
      for (I i = 0; i < s.kh; ++i) {
        const I th = hi + s.ph - i;  // = ho * sh
        if (th < 0 || th % s.sh) continue;
        const I ho = th / s.sh;
        if (ho >= s.Ho) continue;
        for (I j = 0; j < s.kw; ++j) {
          const I tw = wi + s.pw - j;  // = wo * sw
          if (tw < 0 || tw % s.sw) continue;
          const I wo = tw / s.sw;
          if (wo >= s.Wo) continue;
          acc.add(w[i * s.kw + j] * d[ho * s.Wo + wo]);
        }
      }
    }
    dinp[idx] = (float)acc.value();
  }
}

// How the m_total = N*Ho*Wo terms of each of `sums` reductions are cut: into `parts` ranges of
// `per` terms, so that there are about 1024 blocks in all when the sums are few, but never
// fewer than 4096 terms per block. A function of the shapes only: results do not depend on
// the GPU.
struct Split {
  int64_t per, parts;
};
Split split_for(int64_t m_total, int64_t sums) {
  int64_t parts = std::max<int64_t>(1, (1024 + sums - 1) / sums);
  parts = std::min<int64_t>(parts, std::max<int64_t>(1, m_total / 4096));
  return {std::max<int64_t>(1, (m_total + parts - 1) / parts), parts};
}

// Writes the sum of task t = (e, q) (output e, part q): out[e] when there is one part, else
// part[t] for finalize_parts_kernel.
__device__ __forceinline__ void store_sum(float* out, double* part, int64_t t, int64_t e, double v) {
  if (part) part[t] = v;
  else out[e] = (float)v;
}

// dweight: (Cout, Cin_g, kh, kw), or part: (Cout*K, parts) when parts > 1; dout: (N, Cout, Ho, Wo);
// inp: (N, Cin, H, W). Task t = (e, q): one block sums the terms m = (n, ho, wo) in
// [q*per, (q+1)*per) of weight element e, its threads striding over them.
template <typename I>
__global__ void conv2d_backward_weight_kernel(float* dweight, double* part, const float* dout, const float* inp,
                                              GeomT<I> s, I per, I parts) {
  const I tasks = s.Cout * s.K * parts, m_total = s.N * s.P;
  for (I t = blockIdx.x; t < tasks; t += gridDim.x) {
    const I e = t / parts, q = t % parts;
    const I co = e / s.K, k = e % s.K;
    const I ci = k / (s.kh * s.kw), i = (k / s.kw) % s.kh, j = k % s.kw;
    const I c = (co / s.Cout_g) * s.Cin_g + ci;
    const I m0 = q * per, m1 = min(m_total, m0 + per);
    BlockedSum acc;
    for (I m = m0 + threadIdx.x; m < m1; m += blockDim.x) {
      const I n = m / s.P, p = m % s.P, ho = p / s.Wo, wo = p % s.Wo;
      const I hi = ho * s.sh - s.ph + i, wi = wo * s.sw - s.pw + j;
      if (hi < 0 || hi >= s.H || wi < 0 || wi >= s.W) continue;
      acc.add(dout[(n * s.Cout + co) * s.P + p] * inp[((n * s.Cin + c) * s.H + hi) * s.W + wi]);
    }
    const double total = block_sum(acc.value());
    if (threadIdx.x == 0) store_sum(dweight, part, t, e, total);
  }
}

// dbias: (Cout), or part: (Cout, parts) when parts > 1; dout: (N, Cout, Ho, Wo). Tasks as above.
template <typename I>
__global__ void conv2d_backward_bias_kernel(float* dbias, double* part, const float* dout, GeomT<I> s, I per, I parts) {
  const I tasks = s.Cout * parts, m_total = s.N * s.P;
  for (I t = blockIdx.x; t < tasks; t += gridDim.x) {
    const I co = t / parts, q = t % parts;
    const I m0 = q * per, m1 = min(m_total, m0 + per);
    BlockedSum acc;
    for (I m = m0 + threadIdx.x; m < m1; m += blockDim.x) acc.add(dout[((m / s.P) * s.Cout + co) * s.P + m % s.P]);
    const double total = block_sum(acc.value());
    if (threadIdx.x == 0) store_sum(dbias, part, t, co, total);
  }
}

// out: (n_out); part: (n_out, parts). out[e] = the parts of e added in order.
__global__ void finalize_parts_kernel(float* out, const double* part, int64_t n_out, int64_t parts) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n_out; e += (int64_t)gridDim.x * blockDim.x) {
    double v = 0;
    for (int64_t q = 0; q < parts; ++q) v += part[e * parts + q];
    out[e] = (float)v;
  }
}

unsigned reduction_blocks(int64_t tasks) { return (unsigned)(tasks < (1 << 20) ? tasks : (1 << 20)); }

// out (n_out) = the reductions of one backward kernel, launched by `launch(part, per, parts)`
// over n_out * parts tasks, with the second pass when parts > 1.
template <typename Launch>
void reduce_split(float* out, int64_t n_out, int64_t m_total, const char* what, Launch launch) {
  const Split sp = split_for(m_total, n_out);
  Scratch<double> part(sp.parts > 1 ? n_out * sp.parts : 0);
  launch(part.get(), sp.per, sp.parts, reduction_blocks(n_out * sp.parts));
  REPMLP_CUDA_LAUNCHED(what);
  if (sp.parts == 1) return;
  finalize_parts_kernel<<<blocks_for(n_out), 256>>>(out, part.get(), n_out, sp.parts);
  REPMLP_CUDA_LAUNCHED(what);
}

// Calls f with s in int when every index of the input, the output, the weight and the
// reductions' tasks (at most 1024 parts per weight) fits with room for a grid-stride step,
// else in int64_t.
template <typename F>
void with_geom(const Geom& s, F&& f) {
  const int64_t most = std::max({s.N * s.Cin * s.H * s.W, s.N * s.Cout * s.P, s.Cout * s.K * 1024});
  if (most >= (int64_t(1) << 30)) return f(s);
  auto i = [](int64_t v) { return static_cast<int>(v); };
  f(GeomT<int>{i(s.N), i(s.Cin), i(s.H), i(s.W), i(s.Cout), i(s.kh), i(s.kw), i(s.sh), i(s.sw), i(s.ph), i(s.pw),
               i(s.G), i(s.Ho), i(s.Wo), i(s.P), i(s.Cin_g), i(s.Cout_g), i(s.K)});
}

}  // namespace

}  // namespace cuda

void cuda::conv2d_forward(float* out, const float* inp, const float* weight, const float* bias, const Conv2dShape& shape) {
  const Geom s = make_geom(shape);
  const int64_t total = s.N * s.Cout * s.P;
  if (total == 0) return;
  with_geom(s, [&](auto g) {
    conv2d_forward_kernel<<<blocks_for(total, kThreads), kThreads>>>(out, inp, weight, bias, g);
  });
  REPMLP_CUDA_LAUNCHED("conv2d_forward");
}

void cuda::conv2d_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                           const Conv2dShape& shape) {
  const Geom s = make_geom(shape);
  const int64_t in_total = s.N * s.Cin * s.H * s.W, w_total = s.Cout * s.K, m_total = s.N * s.P;
  with_geom(s, [&](auto g) {
    using I = decltype(g.N);
    if (dinp && in_total > 0) {
      conv2d_backward_input_kernel<<<blocks_for(in_total, kThreads), kThreads>>>(dinp, dout, weight, g);
      REPMLP_CUDA_LAUNCHED("conv2d_backward (dinp)");
    }
    if (dweight && w_total > 0)
      reduce_split(dweight, w_total, m_total, "conv2d_backward (dweight)",
                   [&](double* part, int64_t per, int64_t parts, unsigned blocks) {
                     conv2d_backward_weight_kernel<<<blocks, kThreads>>>(dweight, part, dout, inp, g, (I)per, (I)parts);
                   });
    if (dbias && s.Cout > 0)
      reduce_split(dbias, s.Cout, m_total, "conv2d_backward (dbias)",
                   [&](double* part, int64_t per, int64_t parts, unsigned blocks) {
                     conv2d_backward_bias_kernel<<<blocks, kThreads>>>(dbias, part, dout, g, (I)per, (I)parts);
                   });
  });
}

}  // namespace repmlp

// CUDA twin of ops/maxpool.cc: forward one thread per output element (its window scanned in
// row-major order, the first maximum kept, a NaN winning); backward one thread per input
// element, gathering in window order the output gradients of the covering windows whose index
// is that element's, so the result is the CPU kernel's bit for bit and nothing is atomic.
#include "../ops/maxpool.h"
#include "check.cuh"

namespace repmlp {
namespace cuda {

// out, indices (may be null): (planes, Ho, Wo); inp: (planes, H, W)
__global__ void maxpool2d_forward_kernel(float* out, int64_t* indices, const float* inp, PoolShape s, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t wo = i % s.Wo, ho = (i / s.Wo) % s.Ho, p = i / (s.Wo * s.Ho);
    const float* x = inp + p * s.H * s.W;
    const int64_t h0 = max((int64_t)0, ho * s.stride_h - s.pad_h), h1 = min(s.H, ho * s.stride_h - s.pad_h + s.kh);
    const int64_t w0 = max((int64_t)0, wo * s.stride_w - s.pad_w), w1 = min(s.W, wo * s.stride_w - s.pad_w + s.kw);
    int64_t best = h0 * s.W + w0;
    float v = x[best];
    for (int64_t hi = h0; hi < h1; ++hi)
      for (int64_t wi = w0; wi < w1; ++wi) {
        const float c = x[hi * s.W + wi];
        if (c > v || isnan(c)) v = c, best = hi * s.W + wi;
      }
    out[i] = v;
    if (indices) indices[i] = best;
  }
}

// The windows [lo, hi] (of n) along one axis that cover position i.
__device__ __forceinline__ void covering(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t n, int64_t& lo, int64_t& hi) {
  const int64_t top = i + pad;
  lo = top < k ? 0 : (top - k) / stride + 1;
  hi = min(n - 1, top / stride);
}

// dinp: (planes, H, W); dout, indices: (planes, Ho, Wo)
__global__ void maxpool2d_backward_kernel(float* dinp, const float* dout, const int64_t* indices, PoolShape s, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t self = i % (s.H * s.W), p = i / (s.H * s.W), hi = self / s.W, wi = self % s.W;
    const float* g = dout + p * s.Ho * s.Wo;
    const int64_t* idx = indices + p * s.Ho * s.Wo;
    int64_t ho0, ho1, wo0, wo1;
    covering(hi, s.kh, s.stride_h, s.pad_h, s.Ho, ho0, ho1);
    covering(wi, s.kw, s.stride_w, s.pad_w, s.Wo, wo0, wo1);
    float acc = 0.f;
    for (int64_t ho = ho0; ho <= ho1; ++ho)
      for (int64_t wo = wo0; wo <= wo1; ++wo)
        if (idx[ho * s.Wo + wo] == self) acc += g[ho * s.Wo + wo];
    dinp[i] = acc;
  }
}

}  // namespace cuda

void cuda::maxpool2d_forward(float* out, int64_t* indices, const float* inp, const PoolShape& s) {
  const int64_t n = s.planes * s.Ho * s.Wo;
  maxpool2d_forward_kernel<<<blocks_for(n), 256>>>(out, indices, inp, s, n);
  REPMLP_CUDA_LAUNCHED("maxpool2d_forward");
}

void cuda::maxpool2d_backward(float* dinp, const float* dout, const int64_t* indices, const PoolShape& s) {
  const int64_t n = s.planes * s.H * s.W;
  maxpool2d_backward_kernel<<<blocks_for(n), 256>>>(dinp, dout, indices, s, n);
  REPMLP_CUDA_LAUNCHED("maxpool2d_backward");
}

}  // namespace repmlp

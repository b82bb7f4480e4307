// Unary elementwise activations. Each is one functor whose forward and derivative serve the
// CPU loops (ops/unary.cc, vectorised with AVX-512 and AVX2 clones), the CUDA kernels (cuda/unary.cu)
// and the ops that fuse an activation into their output pass (BatchNorm). REPMLP_UNARY_OPS
// lists them; each gets the bindings
//   <name>_forward(out, inp, n)           out = f(inp)
//   <name>_backward(dinp, dout, saved, n) dinp = dout * f'(.), saved the forward's input
//                                         ("inp") or output ("out") as `saves_output` says
// all buffers (n). Elementwise: out may be inp, and dinp may be dout or saved.
#pragma once
#include <cmath>
#include <cstdint>

#include "../common.h"
#include "fast_math.h"

#ifdef __CUDACC__
#define REPMLP_HD __host__ __device__ __forceinline__
#else
#define REPMLP_HD __attribute__((always_inline)) inline
#endif

namespace repmlp {

constexpr float kSqrtHalf = 0.70710678118654752440f;   // 1 / sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;  // 1 / sqrt(2 pi)

namespace cpu {
// Phi(x) and phi(x) * sqrt(2 pi) = exp(-x^2 / 2) for GELU on the CPU, branch-free, all in
// float so that the loops vectorise eight wide. x^2 / 2 is split into a float high part and
// its exact remainder (an FMA), so the far tails keep their relative precision: Phi(-12) ~
// 1.8e-33 is right to a few ulp. |x| is clamped to 15 first: beyond it Phi is 0 or 1 and phi
// is 0 in float, and the clamp keeps x^2 finite, so huge inputs give x (or -0) and a gradient
// of 1 (or 0) instead of NaN.
__attribute__((always_inline)) inline void normal_cdf_pdf(float x, float* cdf, float* gauss) {
  const float xc = x < -15.f ? -15.f : (x > 15.f ? 15.f : x);  // NaN stays NaN
  const float hx = 0.5f * xc;  // exact
  const float hi = hx * xc, lo = __builtin_fmaf(hx, xc, -hi);  // hi + lo = xc^2 / 2 exactly
  const float z = __builtin_fabsf(xc) * kSqrtHalf;
  const float tail = 0.5f * erfc_pos(z, hi, lo);  // Phi(-|x|) (z^2 = x^2 / 2)
  *cdf = x < 0.f ? tail : 1.f - tail;
  *gauss = exp_f(-hi) * (1.f - lo);  // exp(-lo) to first order: |lo| <= ulp(hi) / 2; only backward reads it
}
}  // namespace cpu

// ReLU as PyTorch computes it: NaN stays NaN (a NaN weight must show, not turn into 0).
// Backward from the saved output, PyTorch's threshold_backward: 0 where out <= 0, else dout
// (a NaN output passes dout through).
struct Relu {
  static constexpr const char* name = "relu";
  static constexpr bool saves_output = true;
  static REPMLP_HD float forward(float x) { return x <= 0.f ? 0.f : x; }
  static REPMLP_HD float backward(float out, float dout) { return out <= 0.f ? 0.f : dout; }
};

// GELU, exact form: x * Phi(x), Phi the standard normal CDF, taken as 0.5 * erfc(-x / sqrt(2))
// so it keeps full relative precision for negative x (1 + erf(.) would cancel); on the CPU with
// the vectorisable erfc and exp of fast_math.h. Backward from the saved input:
// dinp = dout * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
struct Gelu {
  static constexpr const char* name = "gelu";
  static constexpr bool saves_output = false;
  static REPMLP_HD float forward(float x) {
#ifdef __CUDA_ARCH__
    return x * 0.5f * erfcf(-x * kSqrtHalf);
#else
    float cdf, gauss;
    cpu::normal_cdf_pdf(x, &cdf, &gauss);
    return x * cdf;
#endif
  }
  static REPMLP_HD float backward(float x, float dout) {
#ifdef __CUDA_ARCH__
    const float cdf = 0.5f * erfcf(-x * kSqrtHalf);
    const float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
    return dout * (cdf + x * pdf);
#else
    float cdf, gauss;
    cpu::normal_cdf_pdf(x, &cdf, &gauss);
    return dout * (cdf + x * kInvSqrt2Pi * gauss);
#endif
  }
};

// Sigmoid: 1 / (1 + exp(-x)), evaluated without overflow for either sign. Backward from the
// saved output: dinp = dout * out * (1 - out).
struct Sigmoid {
  static constexpr const char* name = "sigmoid";
  static constexpr bool saves_output = true;
  static REPMLP_HD float forward(float x) {
    const float z = expf(-fabsf(x));  // in (0, 1]: never overflows
    return x >= 0.f ? 1.f / (1.f + z) : z / (1.f + z);
  }
  static REPMLP_HD float backward(float out, float dout) { return dout * out * (1.f - out); }
};

// SiLU (swish): x * sigmoid(x). Backward from the saved input, as PyTorch's silu_backward:
// dinp = dout * s * (1 + x * (1 - s)), s = sigmoid(x).
struct Silu {
  static constexpr const char* name = "silu";
  static constexpr bool saves_output = false;
  static REPMLP_HD float forward(float x) { return x * Sigmoid::forward(x); }
  static REPMLP_HD float backward(float x, float dout) {
    const float s = Sigmoid::forward(x);
    return dout * (s * (1.f + x * (1.f - s)));
  }
};

// Every activation above: X(functor) for each.
#define REPMLP_UNARY_OPS(X) X(Relu) X(Gelu) X(Sigmoid) X(Silu)

namespace cpu {
// Serial loops over [b, e) of (n)-element buffers, vectorised (REPMLP_VECTOR_CLONES); the unary
// kernels run them on their parallel chunks and fused ops on theirs, in place where out == inp.
template <typename F>
void unary_forward_range(float* out, const float* inp, int64_t b, int64_t e);
template <typename F>
void unary_backward_range(float* dinp, const float* dout, const float* saved, int64_t b, int64_t e);
}  // namespace cpu

}  // namespace repmlp

// out, inp: (n); dinp, dout, saved: (n), saved as F::saves_output says.
REPMLP_KERNELS(
  template <typename F> void unary_forward(float* out, const float* inp, int64_t n);
  template <typename F> void unary_backward(float* dinp, const float* dout, const float* saved, int64_t n);
)

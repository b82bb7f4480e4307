// The FFN of a RepMLPNet unit in inference form, declared once for the CPU (ops/ffn.cc) and
// for CUDA (cuda/ffn.cu): z = y + W2 @ gelu(W1 @ y + b1) + b2 per image, the two 1x1 convs
// with every BN folded into them (lib/infer/fold.ts), W1 and W2 in gemm_pack's layout. The
// CPU kernel runs both products of one block of columns back to back on one thread, so that
// the block's hidden maps stay in its cache; both devices describe the products through
// ffn_products.
#pragma once
#include <cstdint>

#include "../common.h"
#include "gemm.h"

namespace repmlp {

struct FfnForward {
  float* out;        // z (N, C, HW)
  const float* y;    // (N, C, HW)
  const float* w1;   // (Ch, C), packed side A
  const float* b1;   // (Ch)
  const float* w2;   // (C, Ch), packed side A
  const float* b2;   // (C)
  int64_t N, C, Ch, HW;
};

// The two products over `batch` images from image n0 and columns [j0, j0 + cols) of each,
// through hidden (batch x (Ch, cols), rows ld_hidden apart, matrices Ch * ld_hidden apart).
struct FfnProducts {
  GemmFused fc1, fc2;
};

inline FfnProducts ffn_products(const FfnForward& f, int64_t n0, int64_t batch, int64_t j0, int64_t cols, float* hidden,
                                int64_t ld_hidden) {
  const int64_t map = f.C * f.HW, at = n0 * map + j0, hidden_stride = f.Ch * ld_hidden;
  FfnProducts p{};
  // hidden = gelu(W1 @ y + b1): (Ch, C) @ (C, cols)
  p.fc1.g = {hidden, f.w1, f.y + at, f.Ch, cols, f.C, batch, false, false, 1.f, 0.f,
             ld_hidden, hidden_stride, f.C, 0, f.HW, map};
  p.fc1.packed_a = true;
  p.fc1.epi.bias = f.b1;
  p.fc1.epi.act = Act::GELU;
  // z = W2 @ hidden + b2 + y: (C, Ch) @ (Ch, cols)
  p.fc2.g = {f.out + at, f.w2, hidden, f.C, cols, f.Ch, batch, false, false, 1.f, 0.f,
             f.HW, map, f.Ch, 0, ld_hidden, hidden_stride};
  p.fc2.packed_a = true;
  p.fc2.epi.bias = f.b2;
  p.fc2.epi.residual = f.y + at;
  p.fc2.epi.ldr = f.HW;
  p.fc2.epi.stride_r = map;
  return p;
}

}  // namespace repmlp

REPMLP_KERNELS(
  void ffn_forward(const FfnForward& f);
)

// The CUDA FFN (ops/ffn.h): both products over the whole batch through a scratch buffer of
// hidden maps, each a fused GEMM (cuda/gemm.cu).
#include "../ops/ffn.h"
#include "scratch.cuh"

namespace repmlp {

void cuda::ffn_forward(const FfnForward& f) {
  if (f.N == 0 || f.C == 0 || f.HW == 0) return;
  Scratch<float> hidden(static_cast<size_t>(f.N * f.Ch * f.HW));
  const FfnProducts p = ffn_products(f, 0, f.N, 0, f.HW, hidden.get(), f.HW);
  cuda::gemm_fused(p.fc1);
  cuda::gemm_fused(p.fc2);
}

}  // namespace repmlp

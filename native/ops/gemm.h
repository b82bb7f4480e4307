// The gemm kernel, declared once for the CPU (ops/gemm.cc) and for CUDA (cuda/gemm.cu).
#pragma once
#include <cstdint>

#include "../common.h"

namespace repmlp {

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] for b < batch, row-major, op(X) = X or X^T.
// Each operand is a batch of matrices: its rows lie ld* elements apart and its matrices
// stride* elements apart (0: one matrix shared by the batch; never for C).
struct GemmBatched {
  float* C;        // batch x (M, N)
  const float* A;  // batch x (M, K), or (K, M) when transA
  const float* B;  // batch x (K, N), or (N, K) when transB
  int64_t M, N, K, batch;
  bool transA, transB;
  float alpha, beta;  // beta == 0: C is written without being read
  int64_t ldc, strideC, lda, strideA, ldb, strideB;
};

}  // namespace repmlp

REPMLP_KERNELS(
  void gemm_strided_batched(const GemmBatched& p);
)

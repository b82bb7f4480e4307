// The gemm kernels, declared once for the CPU (ops/gemm.cc) and for CUDA (cuda/gemm.cu).
#pragma once
#include <cstdint>

#include "../common.h"

REPMLP_KERNELS(
  void gemm_strided_batched(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, int64_t batch, bool transA, bool transB, float alpha, float beta, int64_t ldc, int64_t strideC, int64_t lda, int64_t strideA, int64_t ldb, int64_t strideB);
)

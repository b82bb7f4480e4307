// CUDA twin of the row-major strided batched GEMM, on cuBLAS (opened at run time, cublas.h).
//
// For each b < batch:  C_b = alpha * opA(A_b) @ opB(B_b) + beta * C_b, all row-major:
//   A_b = A + b*strideA: (M, K) with row stride lda, or (K, M) when transA
//   B_b = B + b*strideB: (K, N) with row stride ldb, or (N, K) when transB
//   C_b = C + b*strideC: (M, N) with row stride ldc
// beta == 0 means C is not read (NaNs there do not propagate), as in BLAS.
//
// cuBLAS is column-major. A row-major (R, S) matrix with row stride ld is the column-major
// (S, R) matrix with leading dimension ld, i.e. its transpose, so the row-major product is
// computed as the column-major C^T (N x M) = opB(B)^T (N x K) @ opA(A)^T (K x M): swap the
// operands and M with N, and keep each operand's transpose flag.
#include <climits>
#include <string>

#include "../ops/gemm.h"
#include "check.cuh"
#include "cublas.h"

namespace repmlp {
namespace cuda {

// C: batch x (M, N) with row stride ldc and batch stride strideC; C = beta * C (K == 0 or
// alpha == 0).
__global__ void gemm_scale_kernel(float* C, float beta, int64_t M, int64_t N, int64_t ldc, int64_t strideC, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t b = i / (M * N), r = i % (M * N);
    float* c = C + b * strideC + (r / N) * ldc + r % N;
    *c = beta == 0.f ? 0.f : beta * *c;
  }
}

static void check_int(const char* name, int64_t v) {
  if (v > INT_MAX)
    throw Error(std::string("gemm_strided_batched: ") + name + " = " + std::to_string(v) +
                " exceeds the 32-bit limit of cuBLAS (" + std::to_string(INT_MAX) + "); split the product");
}

static void check_ld(const char* name, int64_t ld, int64_t row) {
  if (ld < (row > 1 ? row : 1))
    throw Error(std::string("gemm_strided_batched: expected ") + name + " >= " + std::to_string(row > 1 ? row : 1) +
                " (the row length) but received " + std::to_string(ld));
}

}  // namespace cuda

void cuda::gemm_strided_batched(const GemmBatched& p) {
  const auto C = p.C;
  const auto A = p.A, B = p.B;
  const auto M = p.M, N = p.N, K = p.K, batch = p.batch, ldc = p.ldc, strideC = p.strideC, lda = p.lda, strideA = p.strideA, ldb = p.ldb, strideB = p.strideB;
  const auto transA = p.transA, transB = p.transB;
  const auto alpha = p.alpha, beta = p.beta;
  if (M < 0 || N < 0 || K < 0 || batch < 0)
    throw Error("gemm_strided_batched: expected non-negative sizes but received M=" + std::to_string(M) +
                ", N=" + std::to_string(N) + ", K=" + std::to_string(K) + ", batch=" + std::to_string(batch));
  if (M == 0 || N == 0 || batch == 0) return;
  check_ld("ldc", ldc, N);
  // An empty sum, or alpha == 0: C = beta * C without reading A or B, as the CPU kernel does
  // (cuBLAS does not promise to skip them: a NaN or Inf there could reach C).
  if (K == 0 || alpha == 0.f) {
    const int64_t n = batch * M * N;
    gemm_scale_kernel<<<blocks_for(n), 256>>>(C, beta, M, N, ldc, strideC, n);
    REPMLP_CUDA_LAUNCHED("gemm_strided_batched");
    return;
  }
  check_ld("lda", lda, transA ? M : K);
  check_ld("ldb", ldb, transB ? K : N);
  check_int("M", M);
  check_int("N", N);
  check_int("K", K);
  check_int("batch", batch);
  check_int("lda", lda);
  check_int("ldb", ldb);
  check_int("ldc", ldc);

  const CublasApi& api = cublas();
  cublasHandle_t h = cublas_handle();
  const cublasOperation_t opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (batch == 1) {
    cublas_check(api.sgemm(h, opB, opA, (int)N, (int)M, (int)K, &alpha, B, (int)ldb, A, (int)lda, &beta, C, (int)ldc),
                 "gemm_strided_batched: cublasSgemm");
  } else {
    cublas_check(api.sgemm_strided_batched(h, opB, opA, (int)N, (int)M, (int)K, &alpha, B, (int)ldb, strideB, A,
                                           (int)lda, strideA, &beta, C, (int)ldc, strideC, (int)batch),
                 "gemm_strided_batched: cublasSgemmStridedBatched");
  }
  REPMLP_CUDA_LAUNCHED("gemm_strided_batched");
}

}  // namespace repmlp

// The gemm kernels, declared once for the CPU (ops/gemm.cc) and for CUDA (cuda/gemm.cu).
#pragma once
#include <cstdint>

#include "../common.h"

namespace repmlp {

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] for b < batch, row-major, op(X) = X or X^T.
// Each operand is a batch of matrices: its rows lie ld* elements apart and its matrices
// stride* elements apart (0: one matrix shared by the batch). strideC 0 with batch > 1 sums
// the batch into one C instead: C = alpha * sum_b op(A[b]) @ op(B[b]) + beta * C (a weight's
// gradient over a batch of images, with no copy of the images into one long K); gemm_fused
// refuses it.
struct GemmBatched {
  float* C;        // batch x (M, N)
  const float* A;  // batch x (M, K), or (K, M) when transA
  const float* B;  // batch x (K, N), or (N, K) when transB
  int64_t M, N, K, batch;
  bool transA, transB;
  float alpha, beta;  // beta == 0: C is written without being read
  int64_t ldc, strideC, lda, strideA, ldb, strideB;
};

// The panel widths of the packed layout (gemm_pack): op(A) in panels of kGemmMR rows, op(B)
// in panels of kGemmNR columns. A packed op(A) of (M, K) holds K * ceil(M / kGemmMR) *
// kGemmMR floats, a packed op(B) of (K, N) K * ceil(N / kGemmNR) * kGemmNR, on either device
// (the CUDA layout, op(X) row-major, uses the first M * K or K * N of them).
constexpr int64_t kGemmMR = 6, kGemmNR = 16;

// The floats one packed matrix takes: `rows` of op(A) (side A) or columns of op(B) (side B), K deep.
inline int64_t gemm_packed_numel(bool side_b, int64_t rows, int64_t K) {
  const int64_t p = side_b ? kGemmNR : kGemmMR;
  return (rows + p - 1) / p * p * K;
}

// gemm_pack: a batch of operands in the GEMM's packed layout, made once for a weight that many
// products read. Side A packs op(A) (rows = M); side B packs op(B) (rows = N, its columns).
// The source is read as GemmBatched reads that operand (ld, trans, stride); packed matrix b
// starts at out + b * gemm_packed_numel(side_b, rows, K).
struct GemmPack {
  bool side_b;
  int64_t rows, K, batch;
  int64_t ld, stride;
  bool trans;
};

// The rows of op(A) as the GEMM reads them (an unpacked A only): opA(A)[i][k] becomes
// scale[v] * opA(A)[i][k] + shift[v], v = (i % period) * ld + b * stride for matrix b. A
// per-channel affine of the input (a BatchNorm) applied while A is packed, never stored.
struct GemmPrologue {
  const float* scale;  // null: no prologue (then shift is null too)
  const float* shift;
  int64_t period, ld, stride;
};

// What the pass that writes C applies to each element (b, i, j), in this order:
//   v = alpha * (A @ B)[i][j] + beta * C[i][j] + bias   bias[b * bias_stride + (bias_per_column ? j : i)]
//   v = act(v)                                          (ops/unary.h; Act::Sigmoid included)
//   v = v * row_scale[b * row_scale_stride + i * row_scale_ld]
//   v = v + residual[b * stride_r + i * ldr + j]
// Null pointers leave their step out.
struct GemmEpilogue {
  const float* bias;
  int64_t bias_stride;
  bool bias_per_column;
  Act act;
  const float* row_scale;
  int64_t row_scale_ld, row_scale_stride;
  const float* residual;
  int64_t ldr, stride_r;
};

// A GEMM with packed operands, a prologue and an epilogue. packed_a / packed_b: the operand is
// gemm_pack's output for op(A) (M, K) / op(B) (K, N), its matrices stride apart (0: one shared
// by the batch, else at least gemm_packed_numel); its ld and trans are not read.
struct GemmFused {
  GemmBatched g;
  bool packed_a, packed_b;
  GemmPrologue pro;
  GemmEpilogue epi;
};

}  // namespace repmlp

REPMLP_KERNELS(
  void gemm_strided_batched(const GemmBatched& p);
  void gemm_fused(const GemmFused& p);
  // out: batch x gemm_packed_numel(p.side_b, p.rows, p.K); inp: the operand as p describes it
  void gemm_pack(float* out, const float* inp, const GemmPack& p);
)

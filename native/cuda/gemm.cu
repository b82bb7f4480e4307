// CUDA twin of the row-major strided batched GEMM, on cuBLAS (opened at run time, cublas.h).
//
// For each b < batch:  C_b = alpha * opA(A_b) @ opB(B_b) + beta * C_b, all row-major:
//   A_b = A + b*strideA: (M, K) with row stride lda, or (K, M) when transA
//   B_b = B + b*strideB: (K, N) with row stride ldb, or (N, K) when transB
//   C_b = C + b*strideC: (M, N) with row stride ldc (strideC 0, batch > 1: one C, the sum)
// beta == 0 means C is not read (NaNs there do not propagate), as in BLAS.
//
// cuBLAS is column-major. A row-major (R, S) matrix with row stride ld is the column-major
// (S, R) matrix with leading dimension ld, i.e. its transpose, so the row-major product is
// computed as the column-major C^T (N x M) = opB(B)^T (N x K) @ opA(A)^T (K x M): swap the
// operands and M with N, and keep each operand's transpose flag.
//
// gemm_fused on CUDA: a packed operand is op(X) row-major (gemm_pack's CUDA layout), read by
// cuBLAS as a plain operand; a prologue is one pass writing op(A) through the affine into
// scratch memory; the epilogue is one pass over C after the product, with the activation as
// a template parameter.
#include <climits>
#include <string>

#include "../ops/gemm.h"
#include "../ops/unary.h"
#include "check.cuh"
#include "cublas.h"
#include "scratch.cuh"

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

// C (M, N) = beta * C + sum over b of prod[b] (batch x (M, N) dense), b in order.
__global__ void gemm_sum_batch_kernel(float* C, const float* prod, float beta, int64_t M, int64_t N, int64_t ldc,
                                      int64_t batch) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < M * N; i += (int64_t)gridDim.x * blockDim.x) {
    float sum = 0.f;
    for (int64_t b = 0; b < batch; ++b) sum += prod[b * M * N + i];
    float* c = C + (i / N) * ldc + i % N;
    *c = beta == 0.f ? sum : sum + beta * *c;
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

// out: batch x op(X) row-major (rows, K) for side A, (K, rows) for side B; inp read as p says.
__global__ void gemm_pack_kernel(float* out, const float* inp, GemmPack p, int64_t size, int64_t n) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < n; idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t b = idx / (p.rows * p.K), e = idx % (p.rows * p.K);
    // side A: e = i * K + k, op(A)(i, k); side B: e = k * rows + j, op(B)(k, j)
    const int64_t r = p.side_b ? e % p.rows : e / p.K, k = p.side_b ? e / p.rows : e % p.K;
    // stored: A (rows, K) or (K, rows) when trans; B (K, rows) or (rows, K) when trans
    const bool row_major_rows = p.side_b == p.trans;  // stored rows run over r
    const float v = inp[b * p.stride + (row_major_rows ? r * p.ld + k : k * p.ld + r)];
    out[b * size + e] = v;
  }
}

// a: batch x (M, K) row-major = scale[v] * opA(A)(i, k) + shift[v], v = (i % period) * ld + b * stride.
__global__ void gemm_prologue_kernel(float* a, GemmBatched g, GemmPrologue pro, int64_t n) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < n; idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t b = idx / (g.M * g.K), e = idx % (g.M * g.K), i = e / g.K, k = e % g.K;
    const float x = g.A[b * g.strideA + (g.transA ? k * g.lda + i : i * g.lda + k)];
    const int64_t v = (i % pro.period) * pro.ld + b * pro.stride;
    a[idx] = pro.scale[v] * x + pro.shift[v];
  }
}

// C = F(C + bias) * row_scale + residual over batch x (M, N) (ops/gemm.h's GemmEpilogue).
template <typename F>
__global__ void gemm_epilogue_kernel(GemmBatched g, GemmEpilogue e, int64_t n) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < n; idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t b = idx / (g.M * g.N), r = idx % (g.M * g.N), i = r / g.N, j = r % g.N;
    float* c = g.C + b * g.strideC + i * g.ldc + j;
    float v = *c;
    if (e.bias) v += e.bias[b * e.bias_stride + (e.bias_per_column ? j : i)];
    v = F::forward(v);
    if (e.row_scale) v *= e.row_scale[b * e.row_scale_stride + i * e.row_scale_ld];
    if (e.residual) v += e.residual[b * e.stride_r + i * e.ldr + j];
    *c = v;
  }
}

struct NoAct {
  static REPMLP_HD float forward(float x) { return x; }
};

void launch_epilogue(const GemmBatched& g, const GemmEpilogue& e) {
  const int64_t n = g.batch * g.M * g.N;
  switch (e.act) {
    case Act::ReLU: gemm_epilogue_kernel<Relu><<<blocks_for(n), 256>>>(g, e, n); break;
    case Act::GELU: gemm_epilogue_kernel<Gelu><<<blocks_for(n), 256>>>(g, e, n); break;
    case Act::Sigmoid: gemm_epilogue_kernel<Sigmoid><<<blocks_for(n), 256>>>(g, e, n); break;
    default: gemm_epilogue_kernel<NoAct><<<blocks_for(n), 256>>>(g, e, n);
  }
  REPMLP_CUDA_LAUNCHED("gemm_fused: epilogue");
}

}  // namespace cuda

void cuda::gemm_pack(float* out, const float* inp, const GemmPack& p) {
  const int64_t n = p.batch * p.rows * p.K;
  if (n == 0) return;
  gemm_pack_kernel<<<blocks_for(n), 256>>>(out, inp, p, gemm_packed_numel(p.side_b, p.rows, p.K), n);
  REPMLP_CUDA_LAUNCHED("gemm_pack");
}

void cuda::gemm_fused(const GemmFused& f) {
  GemmBatched g = f.g;
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  // Packed operands are op(X) row-major.
  if (f.packed_a) g.lda = g.K, g.transA = false;
  if (f.packed_b) g.ldb = g.N, g.transB = false;
  Scratch<float> a(f.pro.scale && g.K ? g.batch * g.M * g.K : 0);
  if (a.get()) {
    const int64_t n = g.batch * g.M * g.K;
    gemm_prologue_kernel<<<blocks_for(n), 256>>>(a.get(), g, f.pro, n);
    REPMLP_CUDA_LAUNCHED("gemm_fused: prologue");
    g.A = a.get(), g.lda = g.K, g.strideA = g.M * g.K, g.transA = false;
  }
  gemm_strided_batched(g);
  const GemmEpilogue& e = f.epi;
  if (e.bias || e.act != Act::None || e.row_scale || e.residual) launch_epilogue(g, e);
}

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
  if (strideC == 0 && batch > 1) {
    // The batch summed into one C (ops/gemm.h): the products into scratch, then summed in order.
    Scratch<float> prod(batch * M * N);
    GemmBatched g = p;
    g.C = prod.get(), g.ldc = N, g.strideC = M * N, g.beta = 0.f;
    gemm_strided_batched(g);
    gemm_sum_batch_kernel<<<blocks_for(M * N), 256>>>(C, prod.get(), beta, M, N, ldc, batch);
    REPMLP_CUDA_LAUNCHED("gemm_strided_batched: sum over the batch");
    return;
  }
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

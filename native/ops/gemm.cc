// GEMM: strided-batched single-precision matrix multiply, row-major, the engine behind
// matmul, linear, the 1x1 convolutions and the set-sharing FC. For each b in [0, batch):
//   C_b = alpha * opA(A_b) @ opB(B_b) + beta * C_b
// with A_b = A + b*strideA, B_b = B + b*strideB, C_b = C + b*strideC (strides may be 0 for
// a shared operand). beta == 0 ignores C's old contents (NaN-safe), as BLAS does.
//
// The CPU kernel follows the BLIS layout: C is cut into (mc x NC) tiles, K into KC slabs;
// for each slab an (mc x KC) block of opA and a (KC x NC) block of opB are packed into
// contiguous micro-panels (MR rows / NR columns, zero-padded at the edges), and a
// register-blocked MR x NR micro-kernel runs over them. The micro-kernel is compiled twice
// (AVX2+FMA and baseline x86-64) and picked at load time, so one binary runs anywhere.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "gemm.h"
#include "../args.h"
#include "../parallel.h"

namespace repmlp {
namespace cpu {

namespace {

constexpr int64_t MR = 6, NR = 16;     // register tile of C: 6 x 16 floats = 12 AVX registers
constexpr int64_t KC = 256;            // depth of one packed slab (A panel 6 KB, B panel 16 KB: L1)
constexpr int64_t MC_MAX = 144;        // rows of a packed A block (144 x 256 x 4 B = 144 KB: L2)
constexpr int64_t NC = 1024;           // columns of a packed B block (256 x 1024 x 4 B = 1 MB)
constexpr double kMinChunkFlops = 1 << 21;  // below this a thread is not worth waking

typedef float v8f __attribute__((vector_size(32)));
// The helpers below pass v8f by value but are always inlined, so no call ever uses the
// AVX calling convention from the baseline clone.
#pragma GCC diagnostic ignored "-Wpsabi"

inline __attribute__((always_inline)) v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline __attribute__((always_inline)) void store8(float* p, const v8f& v) { std::memcpy(p, &v, sizeof v); }

// One MR x NR tile of C: C[0:mr, 0:nr] = alpha * (a @ b) + beta * C (beta == 0: C ignored).
// a: (kc, MR) packed panel of opA; b: (kc, NR) packed panel of opB; C: row stride ldc.
inline __attribute__((always_inline)) void micro_tile(int64_t kc, const float* __restrict a, const float* __restrict b,
                                                      float* C, int64_t ldc, int64_t mr, int64_t nr, float alpha,
                                                      float beta) {
  v8f acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = v8f{};
  for (int64_t k = 0; k < kc; ++k) {
    const v8f b0 = load8(b + k * NR), b1 = load8(b + k * NR + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const float ai = a[k * MR + i];
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  if (mr == MR && nr == NR) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* c = C + i * ldc;
      if (beta == 0.f) {
        store8(c, alpha * acc[i][0]);
        store8(c + 8, alpha * acc[i][1]);
      } else {
        store8(c, alpha * acc[i][0] + beta * load8(c));
        store8(c + 8, alpha * acc[i][1] + beta * load8(c + 8));
      }
    }
    return;
  }
  float tile[MR * NR];
  for (int i = 0; i < MR; ++i) {
    store8(tile + i * NR, acc[i][0]);
    store8(tile + i * NR + 8, acc[i][1]);
  }
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) {
      float& c = C[i * ldc + j];
      c = beta == 0.f ? alpha * tile[i * NR + j] : alpha * tile[i * NR + j] + beta * c;
    }
}

// C (mc x nc, row stride ldc) = alpha * Ap @ Bp + beta * C over one packed slab.
// Ap: (ceil(mc/MR), kc, MR); Bp: (ceil(nc/NR), kc, NR).
__attribute__((target_clones("arch=x86-64-v3", "default"))) void macro_kernel(int64_t mc, int64_t nc, int64_t kc,
                                                                             const float* Ap, const float* Bp,
                                                                             float* C, int64_t ldc, float alpha,
                                                                             float beta) {
  for (int64_t jr = 0; jr < nc; jr += NR)
    for (int64_t ir = 0; ir < mc; ir += MR)
      micro_tile(kc, Ap + ir * kc, Bp + jr * kc, C + ir * ldc + jr, ldc, std::min(MR, mc - ir),
                 std::min(NR, nc - jr), alpha, beta);
}

// Ap: (ceil(mc/MR), kc, MR) <- opA[i0:i0+mc, k0:k0+kc]; opA(i, k) = trans ? A[k*lda + i] : A[i*lda + k].
void pack_a(float* Ap, const float* A, int64_t lda, bool trans, int64_t i0, int64_t mc, int64_t k0, int64_t kc) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t mr = std::min(MR, mc - ir);
    float* dst = Ap + ir * kc;
    if (!trans) {
      for (int64_t i = 0; i < mr; ++i) {
        const float* src = A + (i0 + ir + i) * lda + k0;
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = src[k];
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = A + (k0 + k) * lda + i0 + ir;
        for (int64_t i = 0; i < mr; ++i) dst[k * MR + i] = src[i];
      }
    }
    for (int64_t i = mr; i < MR; ++i)
      for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = 0.f;
  }
}

// Bp: (ceil(nc/NR), kc, NR) <- opB[k0:k0+kc, j0:j0+nc]; opB(k, j) = trans ? B[j*ldb + k] : B[k*ldb + j].
void pack_b(float* Bp, const float* B, int64_t ldb, bool trans, int64_t k0, int64_t kc, int64_t j0, int64_t nc) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t nr = std::min(NR, nc - jr);
    float* dst = Bp + jr * kc;
    if (!trans) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = B + (k0 + k) * ldb + j0 + jr;
        float* d = dst + k * NR;
        for (int64_t j = 0; j < nr; ++j) d[j] = src[j];
        for (int64_t j = nr; j < NR; ++j) d[j] = 0.f;
      }
    } else {
      for (int64_t j = 0; j < nr; ++j) {
        const float* src = B + (j0 + jr + j) * ldb + k0;
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = src[k];
      }
      for (int64_t j = nr; j < NR; ++j)
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = 0.f;
    }
  }
}

// Per-thread packing buffers, allocated once per thread and reused.
struct PackBuffers {
  float* a = nullptr;  // (MC_MAX, KC)
  float* b = nullptr;  // (KC, NC)
  ~PackBuffers() {
    std::free(a);
    std::free(b);
  }
  void ensure() {
    if (!a) a = static_cast<float*>(std::aligned_alloc(64, MC_MAX * KC * sizeof(float)));
    if (!b) b = static_cast<float*>(std::aligned_alloc(64, KC * NC * sizeof(float)));
    if (!a || !b) throw Error("gemm_strided_batched: out of memory for the packing buffers");
  }
};
thread_local PackBuffers buffers;

// C_b = beta * C_b for every b (K == 0 or alpha == 0: the product contributes nothing).
void scale_only(float* C, int64_t M, int64_t N, int64_t batch, float beta, int64_t ldc, int64_t strideC) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < M; ++i) {
      float* c = C + b * strideC + i * ldc;
      for (int64_t j = 0; j < N; ++j) c[j] = beta == 0.f ? 0.f : beta * c[j];
    }
}

}  // namespace

}  // namespace cpu

// (Operands and strides in ops/gemm.h.)
void cpu::gemm_strided_batched(const GemmBatched& p) {
  const auto C = p.C;
  const auto A = p.A, B = p.B;
  const auto M = p.M, N = p.N, K = p.K, batch = p.batch, ldc = p.ldc, strideC = p.strideC, lda = p.lda, strideA = p.strideA, ldb = p.ldb, strideB = p.strideB;
  const auto transA = p.transA, transB = p.transB;
  const auto alpha = p.alpha, beta = p.beta;
  if (batch <= 0 || M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.f) return scale_only(C, M, N, batch, beta, ldc, strideC);

  // Tasks are (b, column block, row block) tiles of C. With few of them, cut M finer so the
  // threads get equal shares.
  const int threads = num_threads();
  const int64_t nb = (N + NC - 1) / NC;
  int64_t mb = (M + MC_MAX - 1) / MC_MAX;
  if (batch * nb * mb < 8 * threads) mb = (mb + threads - 1) / threads * threads;
  const int64_t mc = std::min(MC_MAX, ((M + mb - 1) / mb + MR - 1) / MR * MR);
  mb = (M + mc - 1) / mc;
  const int64_t tasks = batch * nb * mb;
  const double task_flops = 2.0 * static_cast<double>(mc) * static_cast<double>(std::min(N, NC)) * K;
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(kMinChunkFlops / task_flops));

  parallel_for(tasks, grain, [&](int64_t t0, int64_t t1) {
    buffers.ensure();
    float* Ap = buffers.a;
    float* Bp = buffers.b;
    for (int64_t t = t0; t < t1;) {
      // A run of row blocks sharing (b, column block) reuses each packed B slab.
      const int64_t ib0 = t % mb, jb = (t / mb) % nb, b = t / (mb * nb);
      const int64_t ib1 = std::min(mb, ib0 + (t1 - t));
      const int64_t j0 = jb * NC, nc = std::min(NC, N - j0);
      const float* Ab = A + b * strideA;
      const float* Bb = B + b * strideB;
      float* Cb = C + b * strideC;
      for (int64_t pc = 0; pc < K; pc += KC) {
        const int64_t kc = std::min(KC, K - pc);
        pack_b(Bp, Bb, ldb, transB, pc, kc, j0, nc);
        const float beta_k = pc == 0 ? beta : 1.f;
        for (int64_t ib = ib0; ib < ib1; ++ib) {
          const int64_t i0 = ib * mc, m = std::min(mc, M - i0);
          pack_a(Ap, Ab, lda, transA, i0, m, pc, kc);
          macro_kernel(m, nc, kc, Ap, Bp, Cb + i0 * ldc + j0, ldc, alpha, beta_k);
        }
      }
      t += ib1 - ib0;
    }
  });
}


// The elements one operand's batch of (rows x cols) matrices reaches from its first one:
// (batch-1)*stride + (rows-1)*ld + cols, or 0 when the operand is empty.
static int64_t operand_extent(const Args& a, int64_t batch, int64_t rows, int64_t cols, int64_t ld, int64_t stride) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  return a.add(a.add(a.mul(batch - 1, stride), a.mul(rows - 1, ld)), cols);
}

// gemm_strided_batched({C, A, B, M, N, K, batch, transA, transB, alpha, beta,
//                       offC, ldc, strideC, offA, lda, strideA, offB, ldb, strideB})
// off*: element offsets of each operand's first matrix in its storage.
static Napi::Value gemm_strided_batched(const Napi::CallbackInfo& info) {
  Args a(info, "gemm_strided_batched", Args::named);
  GemmBatched p{};
  p.M = a.size("M"), p.N = a.size("N"), p.K = a.size("K"), p.batch = a.size("batch");
  p.transA = a.flag("transA"), p.transB = a.flag("transB");
  p.alpha = static_cast<float>(a.number("alpha")), p.beta = static_cast<float>(a.number("beta"));
  const int64_t offC = a.size("offC"), offA = a.size("offA"), offB = a.size("offB");
  p.ldc = a.size("ldc"), p.strideC = a.size("strideC");
  p.lda = a.size("lda"), p.strideA = a.size("strideA");
  p.ldb = a.size("ldb"), p.strideB = a.size("strideB");
  const int64_t M = p.M, N = p.N, K = p.K, batch = p.batch;
  // Stored shapes: A is (M, K) or, transposed, (K, M); B is (K, N) or (N, K).
  const int64_t rowsA = p.transA ? K : M, colsA = p.transA ? M : K;
  const int64_t rowsB = p.transB ? N : K, colsB = p.transB ? K : N;
  if (p.ldc < std::max<int64_t>(1, N)) a.fail_arg("ldc", "a leading dimension >= max(1, N) = " + std::to_string(std::max<int64_t>(1, N)), std::to_string(p.ldc));
  if (p.lda < std::max<int64_t>(1, colsA)) a.fail_arg("lda", "a leading dimension >= " + std::to_string(std::max<int64_t>(1, colsA)), std::to_string(p.lda));
  if (p.ldb < std::max<int64_t>(1, colsB)) a.fail_arg("ldb", "a leading dimension >= " + std::to_string(std::max<int64_t>(1, colsB)), std::to_string(p.ldb));
  if (batch > 1 && p.strideC == 0 && M > 0 && N > 0)
    a.fail_arg("strideC", "a nonzero stride when batch > 1 (output matrices must not alias)", "0");
  const int64_t extC = operand_extent(a, batch, M, N, p.ldc, p.strideC);
  const int64_t extA = operand_extent(a, batch, rowsA, colsA, p.lda, p.strideA);
  const int64_t extB = operand_extent(a, batch, rowsB, colsB, p.ldb, p.strideB);
  p.C = a.f32("C", extC, offC);
  p.A = a.f32("A", extA, offA);
  p.B = a.f32("B", extB, offB);
  a.check_disjoint("C", p.C, extC, "A", p.A, extA);
  a.check_disjoint("C", p.C, extC, "B", p.B, extB);
  if (extC == 0) return info.Env().Undefined();  // no output (M, N or batch is 0)
  REPMLP_DISPATCH(a, gemm_strided_batched, p);
  return info.Env().Undefined();
}

void register_gemm(Napi::Object exports) { REPMLP_EXPORT(exports, gemm_strided_batched); }

}  // namespace repmlp

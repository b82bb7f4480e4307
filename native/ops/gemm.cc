// GEMM: strided-batched single-precision matrix multiply, row-major, the engine behind
// matmul, linear, the 1x1 convolutions and the set-sharing FC. For each b in [0, batch):
//   C_b = alpha * opA(A_b) @ opB(B_b) + beta * C_b
// with A_b = A + b*strideA, B_b = B + b*strideB, C_b = C + b*strideC (strides may be 0 for
// a shared operand). beta == 0 ignores C's old contents (NaN-safe), as BLAS does.
//
// The CPU kernel follows the BLIS layout: C is cut into (mc x nc) tiles, K into KC slabs;
// for each slab an (mc x KC) block of opA and a (KC x nc) block of opB are packed into
// contiguous micro-panels (MR rows / NR columns, zero-padded at the edges), and a
// register-blocked MR x NR micro-kernel runs over them. The micro-kernel is compiled twice
// (AVX2+FMA and baseline x86-64) and picked at load time, so one binary runs anywhere; on a
// CPU with AVX-512 tiles on 16-float registers (6 x 32, 12 x 16, 6 x 16) run instead
// (cpu_isa.h), over the same packed layout, summing each element in the same order. An opA
// shared by a whole batch is packed once per call.
//
// gemm_fused adds (ops/gemm.h): operands packed once in that same panel layout (gemm_pack: a
// weight read by many products is not packed again each time), a per-row affine of opA
// applied while A is packed (a BatchNorm of the input, never stored), and an epilogue (bias,
// activation, row scale, residual) applied right after the last slab: on each micro-tile from
// its accumulators (ops/gemm_tile.h), or, with an activation, the bias there and the rest row
// by row over the block while it is in L2 (long vector loops suit GELU best).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>

#include "gemm.h"
#include "gemm_args.h"
#include "gemm_tile.h"
#include "../args.h"
#include "../cpu_isa.h"
#include "../parallel.h"
#include "unary.h"

namespace repmlp {
namespace cpu {

namespace {

using namespace gemm_tile;
constexpr int64_t KC = 256;            // depth of one packed slab (A panel 6 KB, B panel 16 KB: L1)
constexpr int64_t MC_MAX = 144;        // rows of a packed A block (144 x 256 x 4 B = 144 KB: L2)
constexpr int64_t NC = 1024;           // columns of a packed B block (256 x 1024 x 4 B = 1 MB)
constexpr double kMinChunkFlops = 1 << 19;  // below this a thread is not worth waking
constexpr int64_t kInPlaceBRows = 96;       // at most this many rows of C: a row-major B is not packed

// The column panels of opB over one slab, as the micro-kernel reads them: panel q (NR
// columns) at base + q * panel_stride with rows k_stride apart. Packed: panel_stride
// kc * NR, k_stride NR. In place (a row-major B read without packing): panel_stride NR,
// k_stride ldb, and the last panel, when narrower than NR, packed into `edge` (reading it in
// place would run past the end of its rows).
struct BPanels {
  const float* base;
  int64_t panel_stride, k_stride;
  const float* edge;  // null: every panel at base
};

// C (mc x nc, row stride ldc) = alpha * Ap @ B + beta * C over one slab, then the epilogue e
// without its activation (the block's last slab only; null for the others and for a plain
// GEMM). Ap: (ceil(mc/MR), kc, MR); B: ceil(nc/NR) panels as bp says.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void macro_kernel(int64_t mc, int64_t nc, int64_t kc,
                                                                             const float* Ap, const BPanels& bp,
                                                                             float* C, int64_t ldc, float alpha,
                                                                             float beta, const EpiView* e) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t nr = std::min(NR, nc - jr);
    const bool edge = bp.edge && nr < NR;
    const float* b = edge ? bp.edge : bp.base + (jr / NR) * bp.panel_stride;
    const int64_t ldb = edge ? NR : bp.k_stride;
    for (int64_t ir = 0; ir < mc; ir += MR) {
      const EpiView tile_e = e ? e->at(ir, jr) : EpiView{};
      micro_tile(kc, Ap + ir * kc, b, ldb, C + ir * ldc + jr, ldc, std::min(MR, mc - ir), nr, alpha, beta,
                 e ? &tile_e : nullptr);
    }
  }
}

// macro_kernel on AVX-512 (cpu_isa.h): every tile on 16-float registers, 6 x 32 over pairs
// of B panels, 12 x 16 and 6 x 16 over a last single one (a narrow edge panel included), the
// last rows short of MR computed on the panels' zero padding and left out when stored.
__attribute__((target("arch=x86-64-v4"))) void macro_kernel_avx512(int64_t mc, int64_t nc, int64_t kc,
                                                                   const float* Ap, const BPanels& bp, float* C,
                                                                   int64_t ldc, float alpha, float beta,
                                                                   const EpiView* e) {
  for (int64_t jr = 0; jr < nc;) {
    const int64_t cols = nc - jr;
    const bool edge = bp.edge && cols < NR;
    const float* b = edge ? bp.edge : bp.base + (jr / NR) * bp.panel_stride;
    const int64_t ldb = edge ? NR : bp.k_stride;
    // two B panels at once; a narrow second one only when packed (read in place, it is the
    // separate edge panel, taken on its own next)
    const bool pair = cols >= 2 * NR || (cols > NR && !bp.edge);
    const int64_t nr = std::min(pair ? 2 * NR : NR, cols);
    for (int64_t ir = 0; ir < mc;) {
      const EpiView tile_e = e ? e->at(ir, jr) : EpiView{};
      const EpiView* te = e ? &tile_e : nullptr;
      const float* a = Ap + ir * kc;
      float* c = C + ir * ldc + jr;
      const int64_t rows = mc - ir;
      if (pair) {
        micro_tile_v16<1, 2>(kc, a, b, bp.panel_stride, ldb, c, ldc, std::min(MR, rows), nr, alpha, beta, te);
        ir += MR;
      } else if (rows > MR) {
        micro_tile_v16<2, 1>(kc, a, b, 0, ldb, c, ldc, std::min(2 * MR, rows), std::min(NR, cols), alpha, beta, te);
        ir += 2 * MR;
      } else {
        micro_tile_v16<1, 1>(kc, a, b, 0, ldb, c, ldc, rows, std::min(NR, cols), alpha, beta, te);
        ir += MR;
      }
    }
    jr += pair ? 2 * NR : NR;
  }
}

// The slab's product on the kernel of the instruction set in effect.
void macro_dispatch(int64_t mc, int64_t nc, int64_t kc, const float* Ap, const BPanels& bp, float* C, int64_t ldc,
                    float alpha, float beta, const EpiView* e) {
  if (cpu_isa::current() == cpu_isa::Isa::Avx512) return macro_kernel_avx512(mc, nc, kc, Ap, bp, C, ldc, alpha, beta, e);
  macro_kernel(mc, nc, kc, Ap, bp, C, ldc, alpha, beta, e);
}

// The rest of the epilogue over an mc x nc block of C that already holds alpha * A@B +
// beta * C + bias: C = F(C) * row_scale + residual, row by row, each row one vector loop over
// its nc contiguous elements (an expensive activation such as GELU runs here rather than per
// tile: whole rows vectorise best), while the block is still in L2.
template <typename F>
REPMLP_VECTOR_CLONES void activate_block(float* C, int64_t ldc, int64_t mc,
                                         int64_t nc, const EpiView& e) {
  for (int64_t i = 0; i < mc; ++i) {
    float* __restrict c = C + i * ldc;
    const float rs = e.row_scale ? e.row_scale[i * e.rs_ld] : 1.f;
    for (int64_t j = 0; j < nc; ++j) c[j] = F::forward(c[j]) * rs;
    if (e.residual) {
      const float* __restrict r = e.residual + i * e.ldr;
      for (int64_t j = 0; j < nc; ++j) c[j] += r[j];
    }
  }
}

// A prologue (GemmPrologue) for matrix b: the affine of row i of opA.
struct RowAffine {
  const float* scale;
  const float* shift;
  int64_t period, ld, off;
  int64_t at(int64_t i) const { return (i % period) * ld + off; }
};

// Ap: (ceil(mc/MR), kc, MR) <- opA[i0:i0+mc, k0:k0+kc]; opA(i, k) = trans ? A[k*lda + i] : A[i*lda + k],
// each row through the affine when one is given. depth: the panels' depth when these kc rows
// are part of a deeper slab (0: kc), Ap pointing at the first of them.
void pack_a(float* Ap, const float* A, int64_t lda, bool trans, int64_t i0, int64_t mc, int64_t k0, int64_t kc,
            const RowAffine* aff = nullptr, int64_t depth = 0) {
  if (depth == 0) depth = kc;
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t mr = std::min(MR, mc - ir);
    float* dst = Ap + ir * depth;
    float s[MR], t[MR];
    for (int64_t i = 0; i < mr; ++i) {
      s[i] = aff ? aff->scale[aff->at(i0 + ir + i)] : 1.f;
      t[i] = aff ? aff->shift[aff->at(i0 + ir + i)] : 0.f;
    }
    if (!trans) {
      for (int64_t i = 0; i < mr; ++i) {
        const float* src = A + (i0 + ir + i) * lda + k0;
        if (aff)
          for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = s[i] * src[k] + t[i];
        else
          for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = src[k];
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = A + (k0 + k) * lda + i0 + ir;
        if (aff)
          for (int64_t i = 0; i < mr; ++i) dst[k * MR + i] = s[i] * src[i] + t[i];
        else
          for (int64_t i = 0; i < mr; ++i) dst[k * MR + i] = src[i];
      }
    }
    for (int64_t i = mr; i < MR; ++i)
      for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = 0.f;
  }
}

// The 8 x 8 block r (row i: r[i]) transposed in place: r[k][i] = old r[i][k]. In three rounds
// of two-input shuffles (interleave pairs of rows, then pairs of pairs, then the halves).
inline __attribute__((always_inline)) void transpose8(v8f (&r)[8]) {
  typedef int32_t v8i __attribute__((vector_size(32)));
  const v8i lo = {0, 8, 1, 9, 4, 12, 5, 13}, hi = {2, 10, 3, 11, 6, 14, 7, 15};
  const v8i lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
  const v8i lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
  v8f t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shuffle(r[i], r[i + 1], lo);
    t[i + 1] = __builtin_shuffle(r[i], r[i + 1], hi);
  }
  for (int h = 0; h < 8; h += 4)
    for (int i = 0; i < 2; ++i) {
      u[h + 2 * i] = __builtin_shuffle(t[h + i], t[h + i + 2], lo2);
      u[h + 2 * i + 1] = __builtin_shuffle(t[h + i], t[h + i + 2], hi2);
    }
  for (int k = 0; k < 4; ++k) {
    r[k] = __builtin_shuffle(u[k], u[k + 4], lo4);
    r[k + 4] = __builtin_shuffle(u[k], u[k + 4], hi4);
  }
}

// One full NR-column panel of a transposed opB: dst[k * NR + j] = src[j * ld + k] for j < NR,
// k < kc (src: NR rows of opB's transpose), 8 x 8 blocks at a time through registers.
REPMLP_VECTOR_CLONES void pack_panel_transposed(float* __restrict dst, const float* __restrict src,
                                                int64_t ld, int64_t kc) {
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8)
    for (int64_t j0 = 0; j0 < NR; j0 += 8) {
      v8f r[8];
      for (int i = 0; i < 8; ++i) r[i] = loadv<v8f>(src + (j0 + i) * ld + k);
      transpose8(r);
      for (int i = 0; i < 8; ++i) storev(dst + (k + i) * NR + j0, r[i]);
    }
  for (; k < kc; ++k)
    for (int64_t j = 0; j < NR; ++j) dst[k * NR + j] = src[j * ld + k];
}

// Bp: (ceil(nc/NR), kc, NR) <- opB[k0:k0+kc, j0:j0+nc]; opB(k, j) = trans ? B[j*ldb + k] : B[k*ldb + j].
// depth: as for pack_a.
void pack_b(float* Bp, const float* B, int64_t ldb, bool trans, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
            int64_t depth = 0) {
  if (depth == 0) depth = kc;
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t nr = std::min(NR, nc - jr);
    float* dst = Bp + jr * depth;
    if (!trans) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = B + (k0 + k) * ldb + j0 + jr;
        float* d = dst + k * NR;
        for (int64_t j = 0; j < nr; ++j) d[j] = src[j];
        for (int64_t j = nr; j < NR; ++j) d[j] = 0.f;
      }
    } else if (nr == NR) {
      pack_panel_transposed(dst, B + (j0 + jr) * ldb + k0, ldb, kc);
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

bool has_epilogue(const GemmEpilogue& e) {
  return e.bias || e.act != Act::None || e.row_scale || e.residual;
}

// The epilogue of matrix b from C's element (i0, j0) on.
EpiView epi_view(const GemmEpilogue& e, int64_t b, int64_t i0, int64_t j0) {
  const float* bias = e.bias ? e.bias + b * e.bias_stride : nullptr;
  return {bias && !e.bias_per_column ? bias + i0 : nullptr, bias && e.bias_per_column ? bias + j0 : nullptr,
          e.row_scale ? e.row_scale + b * e.row_scale_stride + i0 * e.row_scale_ld : nullptr, e.row_scale_ld,
          e.residual ? e.residual + b * e.stride_r + i0 * e.ldr + j0 : nullptr, e.ldr};
}

// K == 0 or alpha == 0 with an epilogue: C = epilogue(beta * C), NR columns at a time.
template <typename F>
void epilogue_only(const GemmFused& f) {
  const GemmBatched& p = f.g;
  static const float zeros[NR] = {};
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; j += NR) {
        const EpiView e = epi_view(f.epi, b, i, j);
        epilogue_rows<F>(p.C + b * p.strideC + i * p.ldc + j, p.ldc, zeros, 0, 1, std::min(NR, p.N - j), 0.f, p.beta, e);
      }
}

// How C is cut into tasks: (b, column block of nc, row block of mc) tiles. With few of them,
// the operand that is the larger to pack is cut finer so that the threads get equal shares and
// each packs only its part of it: the columns when N > M (each thread packs its columns of
// opB, and all of the smaller opA), the rows otherwise. grain: tasks a thread takes at least.
struct Blocking {
  int64_t nb, nc, mb, mc, tasks, grain;
};

Blocking blocking(int64_t M, int64_t N, int64_t K, int64_t batch) {
  const int threads = num_threads();
  const auto round_up = [](int64_t v, int64_t m) { return (v + m - 1) / m * m; };
  Blocking k{};
  k.nb = (N + NC - 1) / NC;
  k.mb = (M + MC_MAX - 1) / MC_MAX;
  if (batch * k.nb * k.mb < 8 * threads) {
    if (N > M) k.nb = round_up(k.nb, threads);
    else k.mb = round_up(k.mb, threads);
  }
  k.nc = std::min(NC, round_up((N + k.nb - 1) / k.nb, NR));
  k.nb = (N + k.nc - 1) / k.nc;
  k.mc = std::min(MC_MAX, round_up((M + k.mb - 1) / k.mb, MR));
  k.mb = (M + k.mc - 1) / k.mc;
  k.tasks = batch * k.nb * k.mb;
  const double task_flops = 2.0 * static_cast<double>(k.mc) * static_cast<double>(k.nc) * K;
  k.grain = std::max<int64_t>(1, static_cast<int64_t>(kMinChunkFlops / task_flops));
  return k;
}

// Slab pc (kc deep) of op(B_b)'s columns [j0, j0 + nc): packed at build time, read in place
// (a row-major B reused by few rows of C: packing it would cost about as much as the
// product), or packed now into the thread's buffer.
BPanels b_panels(const GemmFused& f, const float* Bb, bool in_place, int64_t pc, int64_t kc, int64_t j0, int64_t nc) {
  const GemmBatched& p = f.g;
  if (f.packed_b) return {Bb + pc * gemm_packed_numel(true, p.N, 1) + j0 * kc, kc * NR, NR, nullptr};
  if (!in_place) {
    pack_b(buffers.b, Bb, p.ldb, p.transB, pc, kc, j0, nc);
    return {buffers.b, kc * NR, NR, nullptr};
  }
  BPanels bp{Bb + pc * p.ldb + j0, NR, p.ldb, nullptr};
  if (nc % NR) {  // the narrow last panel, packed
    pack_b(buffers.b, Bb, p.ldb, false, pc, kc, j0 + nc - nc % NR, nc % NR);
    bp.edge = buffers.b;
  }
  return bp;
}

// Rows [i0, i0 + m) x columns [j0, j0 + nc) of C_b over slab pc: A packed (now, through the
// prologue, or at build time), the macro kernel, and after the last slab the epilogue.
template <typename F>
void row_block(const GemmFused& f, int64_t b, int64_t i0, int64_t m, int64_t j0, int64_t nc, int64_t pc, int64_t kc,
               const BPanels& bp) {
  const GemmBatched& p = f.g;
  const float* Ab = p.A + b * p.strideA;
  const float* Ap = buffers.a;
  if (f.packed_a) {
    Ap = Ab + pc * gemm_packed_numel(false, p.M, 1) + i0 * kc;
  } else {
    const RowAffine aff{f.pro.scale, f.pro.shift, f.pro.period, f.pro.ld, b * f.pro.stride};
    pack_a(buffers.a, Ab, p.lda, p.transA, i0, m, pc, kc, f.pro.scale ? &aff : nullptr);
  }
  float* Cblock = p.C + b * p.strideC + i0 * p.ldc + j0;
  const float beta = pc == 0 ? p.beta : 1.f;  // later slabs add to the partial sums
  if (pc + kc < p.K || !has_epilogue(f.epi)) return macro_dispatch(m, nc, kc, Ap, bp, Cblock, p.ldc, p.alpha, beta, nullptr);
  const EpiView e = epi_view(f.epi, b, i0, j0);
  if constexpr (std::is_same_v<F, NoAct>) {
    macro_dispatch(m, nc, kc, Ap, bp, Cblock, p.ldc, p.alpha, beta, &e);
  } else {
    // the tiles add the bias; the activation, row scale and residual follow over the block
    const EpiView bias_only{e.row_bias, e.col_bias, nullptr, 0, nullptr, 0};
    macro_dispatch(m, nc, kc, Ap, bp, Cblock, p.ldc, p.alpha, beta, &bias_only);
    activate_block<F>(Cblock, p.ldc, m, nc, e);
  }
}

// `batch` operands (src + b * stride, leading dimension ld) in the packed layout of side A or
// B, matrix b at out + b * gemm_packed_numel(side_b, rows, K): every (matrix, slab) pair in
// parallel, opA's rows through the affine when one is given. gemm_pack's kernel, and the
// driver's packing of a shared opA.
void pack_slabs(float* out, const float* src, int64_t ld, int64_t stride, bool trans, bool side_b, int64_t rows,
                int64_t K, int64_t batch, const RowAffine* aff) {
  const int64_t size = gemm_packed_numel(side_b, rows, K), width = gemm_packed_numel(side_b, rows, 1);
  const int64_t slabs = (K + KC - 1) / KC;
  parallel_for(batch * slabs, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / slabs, pc = (t % slabs) * KC, kc = std::min(KC, K - pc);
      float* dst = out + b * size + pc * width;
      if (side_b) pack_b(dst, src + b * stride, ld, trans, pc, kc, 0, rows);
      else pack_a(dst, src + b * stride, ld, trans, 0, rows, pc, kc, aff);
    }
  });
}

struct FreeDeleter {
  void operator()(float* q) const { std::free(q); }
};

// The tasks [t0, t1) of one parallel chunk as runs of row blocks [ib0, ib1) that share matrix c
// of C and its columns [j0, j0 + nc): fn(c, j0, nc, ib0, ib1) packs each slab of B once per run.
template <typename Fn>
void for_task_runs(const Blocking& k, int64_t N, int64_t t0, int64_t t1, Fn fn) {
  for (int64_t t = t0; t < t1;) {
    const int64_t ib0 = t % k.mb, jb = (t / k.mb) % k.nb, c = t / (k.mb * k.nb);
    const int64_t ib1 = std::min(k.mb, ib0 + (t1 - t));
    const int64_t j0 = jb * k.nc;
    fn(c, j0, std::min(k.nc, N - j0), ib0, ib1);
    t += ib1 - ib0;
  }
}

// Slab [pc, pc + kc) of the batch's products laid end to end along K (matrix b's K rows after
// b - 1 others), as runs within one matrix each: fn(b, k0, len, at) for rows [k0, k0 + len) of
// matrix b, at the slab's row `at`.
template <typename Fn>
void slab_runs(int64_t K, int64_t pc, int64_t kc, Fn fn) {
  for (int64_t at = 0; at < kc;) {
    const int64_t g = pc + at, b = g / K, k0 = g % K, len = std::min(kc - at, K - k0);
    fn(b, k0, len, at);
    at += len;
  }
}

// A sum over the batch (strideC 0, ops/gemm.h): one product of depth K * batch, its slabs packed
// from the matrices they span, so that C is summed exactly as one GEMM over copies of the
// operands laid end to end would sum it (a weight's gradient over images of few pixels gets
// full-depth slabs, not one short slab per image).
void run_sum_batch(const GemmBatched& p) {
  const int64_t depth = p.K * p.batch;
  const Blocking k = blocking(p.M, p.N, depth, 1);
  parallel_for(k.tasks, k.grain, [&](int64_t t0, int64_t t1) {
    buffers.ensure();
    for_task_runs(k, p.N, t0, t1, [&](int64_t, int64_t j0, int64_t nc, int64_t ib0, int64_t ib1) {
      for (int64_t pc = 0; pc < depth; pc += KC) {
        const int64_t kc = std::min(KC, depth - pc);
        slab_runs(p.K, pc, kc, [&](int64_t b, int64_t k0, int64_t len, int64_t at) {
          pack_b(buffers.b + at * NR, p.B + b * p.strideB, p.ldb, p.transB, k0, len, j0, nc, kc);
        });
        const BPanels bp{buffers.b, kc * NR, NR, nullptr};
        for (int64_t ib = ib0; ib < ib1; ++ib) {
          const int64_t i0 = ib * k.mc, m = std::min(k.mc, p.M - i0);
          slab_runs(p.K, pc, kc, [&](int64_t b, int64_t k0, int64_t len, int64_t at) {
            pack_a(buffers.a + at * MR, p.A + b * p.strideA, p.lda, p.transA, i0, m, k0, len, nullptr, kc);
          });
          macro_dispatch(m, nc, kc, buffers.a, bp, p.C + i0 * p.ldc + j0, p.ldc, p.alpha, pc == 0 ? p.beta : 1.f,
                         nullptr);
        }
      }
    });
  });
}

// The driver: tasks in parallel chunks; a run of row blocks sharing (b, column block) reuses
// each slab of B.
template <typename F>
void run_gemm(const GemmFused& f) {
  const GemmBatched& p = f.g;
  if (p.batch <= 0 || p.M <= 0 || p.N <= 0) return;
  const bool sum_batch = p.strideC == 0 && p.batch > 1;  // gemm_fused's reader refuses it with the rest
  if (p.K <= 0 || p.alpha == 0.f)
    return has_epilogue(f.epi) ? epilogue_only<F>(f)
                               : scale_only(p.C, p.M, p.N, sum_batch ? 1 : p.batch, p.beta, p.ldc, p.strideC);
  if (sum_batch) return run_sum_batch(p);
  // An opA that every matrix of the batch shares (a weight against a batch of images, stride
  // 0, and the same prologue for each) is packed once for the call rather than once per matrix.
  if (!f.packed_a && p.strideA == 0 && p.batch > 1 && (!f.pro.scale || f.pro.stride == 0)) {
    const std::unique_ptr<float, FreeDeleter> packed(static_cast<float*>(
        std::aligned_alloc(64, (gemm_packed_numel(false, p.M, p.K) * sizeof(float) + 63) / 64 * 64)));
    if (!packed) throw Error("gemm_strided_batched: out of memory for the packed shared operand A");
    const RowAffine aff{f.pro.scale, f.pro.shift, f.pro.period, f.pro.ld, 0};
    pack_slabs(packed.get(), p.A, p.lda, 0, p.transA, false, p.M, p.K, 1, f.pro.scale ? &aff : nullptr);
    GemmFused g = f;
    g.g.A = packed.get();
    g.packed_a = true;
    g.pro = {};
    return run_gemm<F>(g);
  }
  const Blocking k = blocking(p.M, p.N, p.K, p.batch);
  const bool in_place_b = !f.packed_b && !p.transB && p.M <= kInPlaceBRows;
  parallel_for(k.tasks, k.grain, [&](int64_t t0, int64_t t1) {
    buffers.ensure();
    for_task_runs(k, p.N, t0, t1, [&](int64_t b, int64_t j0, int64_t nc, int64_t ib0, int64_t ib1) {
      for (int64_t pc = 0; pc < p.K; pc += KC) {
        const int64_t kc = std::min(KC, p.K - pc);
        const BPanels bp = b_panels(f, p.B + b * p.strideB, in_place_b, pc, kc, j0, nc);
        for (int64_t ib = ib0; ib < ib1; ++ib)
          row_block<F>(f, b, ib * k.mc, std::min(k.mc, p.M - ib * k.mc), j0, nc, pc, kc, bp);
      }
    });
  });
}

}  // namespace

}  // namespace cpu

// (Operands and strides in ops/gemm.h.)
void cpu::gemm_strided_batched(const GemmBatched& p) { gemm_fused(GemmFused{p, false, false, {}, {}}); }

void cpu::gemm_fused(const GemmFused& f) {
  switch (f.epi.act) {
    case Act::ReLU: return run_gemm<Relu>(f);
    case Act::GELU: return run_gemm<Gelu>(f);
    case Act::Sigmoid: return run_gemm<Sigmoid>(f);
    default: return run_gemm<NoAct>(f);
  }
}

void cpu::gemm_pack(float* out, const float* inp, const GemmPack& p) {
  pack_slabs(out, inp, p.ld, p.stride, p.trans, p.side_b, p.rows, p.K, p.batch, nullptr);
}

// gemm_strided_batched({C, A, B, M, N, K, batch, transA, transB, alpha, beta,
//                       offC, ldc, strideC, offA, lda, strideA, offB, ldb, strideB})
// off*: element offsets of each operand's first matrix in its storage.
static Napi::Value gemm_strided_batched(const Napi::CallbackInfo& info) {
  Args a(info, "gemm_strided_batched", Args::named);
  int64_t extC;
  const GemmFused f = read_gemm(a, false, &extC);
  if (extC == 0) return info.Env().Undefined();  // no output (M, N or batch is 0)
  REPMLP_DISPATCH(a, gemm_strided_batched, f.g);
  return info.Env().Undefined();
}

// gemm_fused({...the fields of gemm_strided_batched, packedA, packedB, the prologue's scale,
// offScale, shift, offShift, proPeriod, proLd, proStride, and the epilogue's bias, offBias,
// biasStride, biasPerColumn, act, rowScale, offRowScale, rowScaleLd, rowScaleStride, residual,
// offResidual, ldr, strideR}): ops/gemm.h's GemmFused (kGemmFusedFields).
static Napi::Value gemm_fused(const Napi::CallbackInfo& info) {
  Args a(info, "gemm_fused", Args::named);
  int64_t extC;
  const GemmFused f = read_gemm(a, true, &extC);
  if (extC == 0) return info.Env().Undefined();
  REPMLP_DISPATCH(a, gemm_fused, f);
  return info.Env().Undefined();
}

// gemm_pack({out, offOut, inp, offInp, sideB, rows, K, batch, ld, stride, trans}): ops/gemm.h's GemmPack.
static Napi::Value gemm_pack(const Napi::CallbackInfo& info) {
  Args a(info, "gemm_pack", Args::named);
  const PackCall c = read_gemm_pack(a);
  if (c.out_numel == 0) return info.Env().Undefined();
  REPMLP_DISPATCH(a, gemm_pack, c.out, c.inp, c.p);
  return info.Env().Undefined();
}

void register_gemm(Napi::Object exports) {
  REPMLP_EXPORT(exports, gemm_strided_batched);
  REPMLP_EXPORT(exports, gemm_fused);
  REPMLP_EXPORT(exports, gemm_pack);
}

}  // namespace repmlp

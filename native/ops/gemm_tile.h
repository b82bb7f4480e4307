// The register level of the CPU GEMM (ops/gemm.cc, its only includer): the MR x NR
// micro-tile of C over packed panels and the epilogue applied to it. Everything here is
// inlined into gemm.cc's macro kernels (AVX-512, AVX2 and baseline).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "gemm.h"
#include "simd.h"

namespace repmlp::cpu::gemm_tile {

constexpr int64_t MR = kGemmMR, NR = kGemmNR;  // register tile of C: 6 x 16 floats = 12 AVX registers

// The identity, for epilogues without an activation.
struct NoAct {
  static __attribute__((always_inline)) inline float forward(float x) { return x; }
};

// The epilogue (GemmEpilogue) seen from one block or tile of C: each pointer at the
// block's first row / column of matrix b, null when that step is left out.
struct EpiView {
  const float* row_bias;   // [i]
  const float* col_bias;   // [j]
  const float* row_scale;  // [i * rs_ld]
  int64_t rs_ld;
  const float* residual;  // [i * ldr + j]
  int64_t ldr;
  // The same epilogue from row ir and column jr of this view on.
  EpiView at(int64_t ir, int64_t jr) const {
    return {row_bias ? row_bias + ir : nullptr, col_bias ? col_bias + jr : nullptr,
            row_scale ? row_scale + ir * rs_ld : nullptr, rs_ld, residual ? residual + ir * ldr + jr : nullptr, ldr};
  }
};

// Rows [0, mr) x columns [0, nr) of C (row stride ldc), nr <= NR, from the product tile t
// (row stride ldt, NR columns readable): C = F(alpha * t + beta * C + bias) * row_scale +
// residual. Every row is computed NR wide whatever nr (the loops have a fixed trip count,
// so the activation vectorises), and only its first nr columns are read from C and the
// residual or written.
template <typename F>
inline __attribute__((always_inline)) void epilogue_rows(float* C, int64_t ldc, const float* t, int64_t ldt, int64_t mr,
                                                         int64_t nr, float alpha, float beta, const EpiView& e) {
  float add[NR], v[NR];
  for (int64_t j = 0; j < NR; ++j) add[j] = e.col_bias && j < nr ? e.col_bias[j] : 0.f;
  for (int64_t i = 0; i < mr; ++i) {
    float* c = C + i * ldc;
    const float* ti = t + i * ldt;
    const float rb = e.row_bias ? e.row_bias[i] : 0.f;
    const float rs = e.row_scale ? e.row_scale[i * e.rs_ld] : 1.f;
    for (int64_t j = 0; j < NR; ++j) v[j] = alpha * ti[j];
    if (beta != 0.f)
      for (int64_t j = 0; j < nr; ++j) v[j] += beta * c[j];
    for (int64_t j = 0; j < NR; ++j) v[j] = F::forward(v[j] + (add[j] + rb)) * rs;
    if (e.residual) {
      const float* r = e.residual + i * e.ldr;
      for (int64_t j = 0; j < nr; ++j) v[j] += r[j];
    }
    for (int64_t j = 0; j < nr; ++j) c[j] = v[j];
  }
}

// A full MR x NR tile of C from its accumulators, row i in acc[i][0 .. H) (H = NR / L vectors
// of L floats): alpha * acc + beta * C, then, when e is given, the epilogue without an
// activation (a block with one gets it from activate_block, gemm.cc): the same steps, in the
// same order and rounding, as epilogue_rows, whatever the vector width.
template <typename V, int H = NR / kLanes<V>>
inline __attribute__((always_inline)) void store_tile(const V (&acc)[MR][H], float* C, int64_t ldc, float alpha,
                                                      float beta, const EpiView* e) {
  constexpr int L = kLanes<V>;
  static_assert(H * L == NR, "a row of the tile is H vectors");
  V cb[H] = {};
  if (e && e->col_bias)
    for (int h = 0; h < H; ++h) cb[h] = loadv<V>(e->col_bias + h * L);
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* c = C + i * ldc;
    V v[H];
    for (int h = 0; h < H; ++h) {
      v[h] = alpha * acc[i][h];
      if (beta != 0.f) v[h] += beta * loadv<V>(c + h * L);
    }
    if (e) {
      const float rb = e->row_bias ? e->row_bias[i] : 0.f;
      const float rs = e->row_scale ? e->row_scale[i * e->rs_ld] : 1.f;
      const float* r = e->residual ? e->residual + i * e->ldr : nullptr;
      for (int h = 0; h < H; ++h) {
        v[h] += cb[h] + rb;
        if (e->row_scale) v[h] *= rs;
        if (r) v[h] += loadv<V>(r + h * L);
      }
    }
    for (int h = 0; h < H; ++h) storev(c + h * L, v[h]);
  }
}

// Rows [0, mr) x columns [0, nr) (nr <= NR) of C from a product tile t (row stride ldt, NR
// columns readable): alpha * t + beta * C, then the epilogue (without activation) when e is
// given. Every kernel's partial tiles end here, so they round alike.
inline __attribute__((always_inline)) void store_part(const float* t, int64_t ldt, float* C, int64_t ldc, int64_t mr,
                                                      int64_t nr, float alpha, float beta, const EpiView* e) {
  if (e) return epilogue_rows<NoAct>(C, ldc, t, ldt, mr, nr, alpha, beta, *e);
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) {
      float& c = C[i * ldc + j];
      c = beta == 0.f ? alpha * t[i * ldt + j] : alpha * t[i * ldt + j] + beta * c;
    }
}

// One MR x NR tile of C: C[0:mr, 0:nr] = alpha * (a @ b) + beta * C (beta == 0: C ignored),
// then the epilogue (without activation) when e is given. a: (kc, MR) packed panel of opA;
// b: (kc, NR) panel of opB, its rows ldb apart (NR when packed); C: row stride ldc.
inline __attribute__((always_inline)) void micro_tile(int64_t kc, const float* __restrict a, const float* __restrict b,
                                                      int64_t ldb, float* C, int64_t ldc, int64_t mr, int64_t nr,
                                                      float alpha, float beta, const EpiView* e) {
  v8f acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = v8f{};
  for (int64_t k = 0; k < kc; ++k) {
    const v8f b0 = loadv<v8f>(b + k * ldb), b1 = loadv<v8f>(b + k * ldb + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const float ai = a[k * MR + i];
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  if (mr == MR && nr == NR) return store_tile(acc, C, ldc, alpha, beta, e);
  float tile[MR * NR];
  for (int i = 0; i < MR; ++i) {
    storev(tile + i * NR, acc[i][0]);
    storev(tile + i * NR + 8, acc[i][1]);
  }
  store_part(tile, NR, C, ldc, mr, nr, alpha, beta, e);
}

// The AVX-512 tiles (gemm.cc's macro_kernel_avx512, their only user): a full (PA * MR) x
// (PB * NR) tile of C from PA consecutive packed MR-row panels of opA (a, MR * kc apart)
// against PB adjacent NR-column panels of opB (b, b_stride apart, rows ldb apart), one
// 16-float register per row and B panel: 6 x 32 (PA 1, PB 2: 12 accumulators), 12 x 16 (PA 2,
// PB 1: 12 accumulators) and 6 x 16 (6). Each element is summed over k in the same order with
// the same fused multiply-adds as micro_tile's and stored through the same store_tile; only
// the compiler's fusing of alpha * sum + beta * C can differ from it (an ulp). The tile's first
// mr rows and nr columns are stored: the rest are products of the panels' zero padding.
template <int PA, int PB>
inline __attribute__((always_inline)) void micro_tile_v16(int64_t kc, const float* __restrict a,
                                                          const float* __restrict b, int64_t b_stride, int64_t ldb,
                                                          float* C, int64_t ldc, int64_t mr, int64_t nr, float alpha,
                                                          float beta, const EpiView* e) {
  static_assert(NR == 16, "one 16-float register per row of a B panel");
  v16f acc[PA][PB][MR][1];  // row i of tile (pa, q) in acc[pa][q][i][0]
  for (int pa = 0; pa < PA; ++pa)
    for (int q = 0; q < PB; ++q)
      for (int i = 0; i < MR; ++i) acc[pa][q][i][0] = v16f{};
  for (int64_t k = 0; k < kc; ++k) {
    v16f p[PB];
    for (int q = 0; q < PB; ++q) p[q] = loadv<v16f>(b + q * b_stride + k * ldb);
    for (int pa = 0; pa < PA; ++pa)
#pragma GCC unroll 6
      for (int i = 0; i < MR; ++i) {
        const float ai = a[pa * MR * kc + k * MR + i];
        for (int q = 0; q < PB; ++q) acc[pa][q][i][0] += ai * p[q];
      }
  }
  for (int pa = 0; pa < PA; ++pa)
    for (int q = 0; q < PB; ++q) {
      const int64_t rows = std::min<int64_t>(MR, mr - pa * MR), cols = std::min<int64_t>(NR, nr - q * NR);
      if (rows <= 0 || cols <= 0) continue;
      const EpiView eq = e ? e->at(pa * MR, q * NR) : EpiView{};
      float* c = C + pa * MR * ldc + q * NR;
      if (rows == MR && cols == NR) {
        store_tile(acc[pa][q], c, ldc, alpha, beta, e ? &eq : nullptr);
        continue;
      }
      float tile[MR * NR];
      std::memcpy(tile, acc[pa][q], sizeof tile);
      store_part(tile, NR, c, ldc, rows, cols, alpha, beta, e ? &eq : nullptr);
    }
}

}  // namespace repmlp::cpu::gemm_tile

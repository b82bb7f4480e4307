// The fields of the gemm bindings, read and checked once for every caller: a binding's Args
// (named fields) or a step of an inference program (ops/infer.cc), which reads the same
// names. R is either; it provides Args' named accessors. Every field of a list below is read
// on every call, whatever the others say (a step's reader checks that each was read once).
#pragma once
#include <algorithm>
#include <string>

#include "gemm.h"

namespace repmlp {

// The fields of gemm_fused and of gemm_pack, as the bindings and the program steps name them,
// in the order read_gemm reads them (a program step's reader finds each next in line).
inline constexpr const char* kGemmFusedFields[] = {
    "M", "N", "K", "batch", "alpha", "beta", "offC", "ldc", "strideC", "C",
    "offA", "lda", "strideA", "transA", "packedA", "A", "offB", "ldb", "strideB", "transB", "packedB", "B",
    "scale", "offScale", "offShift", "proPeriod", "proLd", "proStride", "shift",
    "offBias", "offRowScale", "offResidual", "biasStride", "biasPerColumn", "act", "rowScaleLd", "rowScaleStride", "ldr",
    "strideR", "bias", "rowScale", "residual"};
inline constexpr const char* kGemmPackFields[] = {"out", "offOut", "inp", "offInp", "sideB", "rows", "K", "batch", "ld", "stride", "trans"};

namespace gemm_args {

// The elements one operand's batch of (rows x cols) matrices reaches from its first one:
// (batch-1)*stride + (rows-1)*ld + cols, or 0 when the operand is empty.
template <typename R>
int64_t extent(const R& a, int64_t batch, int64_t rows, int64_t cols, int64_t ld, int64_t stride) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  return a.add(a.add(a.mul(batch - 1, stride), a.mul(rows - 1, ld)), cols);
}

// A leading dimension of at least max(1, cols); `what` names the bound in the message.
template <typename R>
void check_ld(const R& a, const char* name, int64_t ld, int64_t cols, const char* what = "") {
  const int64_t least = std::max<int64_t>(1, cols);
  if (ld < least) a.fail_arg(name, "a leading dimension >= " + std::string(what) + std::to_string(least), std::to_string(ld));
}

// A batch of packed matrices of `size` floats each, `stride` apart (0: one shared).
template <typename R>
int64_t packed_extent(const R& a, const char* stride_name, int64_t batch, int64_t stride, int64_t size) {
  if (batch == 0 || size == 0) return 0;
  if (batch > 1 && stride != 0 && stride < size)
    a.fail_arg(stride_name, "0 or at least one packed matrix (" + std::to_string(size) + " elements)", std::to_string(stride));
  return a.add(a.mul(batch - 1, stride), size);
}

// One operand, A or B: its offset, ld, stride, trans (and, fused, packed) fields and its storage.
template <typename R>
const float* operand(R& a, bool fused, bool side_b, int64_t batch, int64_t rows, int64_t K, int64_t* ld,
                     int64_t* stride, bool* trans, bool* packed, int64_t* ext) {
  const char* off_name = side_b ? "offB" : "offA";
  const char* ld_name = side_b ? "ldb" : "lda";
  const char* stride_name = side_b ? "strideB" : "strideA";
  const int64_t off = a.size(off_name);
  *ld = a.size(ld_name), *stride = a.size(stride_name);
  *trans = a.flag(side_b ? "transB" : "transA");
  *packed = fused && a.flag(side_b ? "packedB" : "packedA");
  if (*packed) {
    *ext = packed_extent(a, stride_name, batch, *stride, a.mul(gemm_packed_numel(side_b, rows, 1), K));
  } else {
    // Stored: A (M, K) or, transposed, (K, M); B (K, N) or (N, K).
    const int64_t srows = side_b == *trans ? rows : K, scols = side_b == *trans ? K : rows;
    check_ld(a, ld_name, *ld, scols);
    *ext = extent(a, batch, srows, scols, *ld, *stride);
  }
  return a.f32(side_b ? "B" : "A", *ext, off);
}

// The prologue's vectors; returns the elements each spans (0 without a prologue or output).
template <typename R>
int64_t read_prologue(R& a, const GemmBatched& g, bool packed_a, GemmPrologue& pro) {
  const bool none = a.is_null("scale");
  const int64_t off_scale = a.size("offScale"), off_shift = a.size("offShift");
  pro.period = a.size("proPeriod"), pro.ld = a.size("proLd"), pro.stride = a.size("proStride");
  if (none != a.is_null("shift")) a.fail_arg("shift", none ? "null like scale" : "a Storage like scale", none ? "a Storage" : "null");
  if (none) return 0;
  if (packed_a) a.fail_arg("scale", "null with a packed A (the prologue applies while A is packed)", "a Storage");
  if (pro.period == 0) a.fail_arg("proPeriod", "a positive integer", "0");
  const bool empty = g.M == 0 || g.batch == 0;
  const int64_t n = empty ? 0 : a.add(a.add(a.mul(std::min(pro.period, g.M) - 1, pro.ld), a.mul(g.batch - 1, pro.stride)), 1);
  pro.scale = a.f32("scale", n, off_scale);
  pro.shift = a.f32("shift", n, off_shift);
  return n;
}

// The elements each vector of the epilogue spans (0 for those left out).
struct EpilogueExtents {
  int64_t bias, row_scale, residual;
};

template <typename R>
EpilogueExtents read_epilogue(R& a, const GemmBatched& g, GemmEpilogue& e) {
  const int64_t off_bias = a.size("offBias"), off_rs = a.size("offRowScale"), off_res = a.size("offResidual");
  e.bias_stride = a.size("biasStride");
  e.bias_per_column = a.flag("biasPerColumn");
  const int64_t act = a.integer("act");
  if (act < 0 || act > 3) a.fail_arg("act", "0 (none), 1 (ReLU), 2 (GELU) or 3 (sigmoid)", std::to_string(act));
  e.act = static_cast<Act>(act);
  e.row_scale_ld = a.size("rowScaleLd"), e.row_scale_stride = a.size("rowScaleStride");
  e.ldr = a.size("ldr"), e.stride_r = a.size("strideR");
  const bool bias = !a.is_null("bias"), row_scale = !a.is_null("rowScale"), residual = !a.is_null("residual");
  if (residual) check_ld(a, "ldr", e.ldr, g.N);
  const bool empty = g.M == 0 || g.N == 0 || g.batch == 0;
  EpilogueExtents x{};
  if (bias && !empty) x.bias = a.add(a.mul(g.batch - 1, e.bias_stride), e.bias_per_column ? g.N : g.M);
  if (row_scale && !empty) x.row_scale = a.add(a.add(a.mul(g.batch - 1, e.row_scale_stride), a.mul(g.M - 1, e.row_scale_ld)), 1);
  if (residual) x.residual = extent(a, g.batch, g.M, g.N, e.ldr, e.stride_r);
  e.bias = bias ? a.f32("bias", x.bias, off_bias) : nullptr;
  e.row_scale = row_scale ? a.f32("rowScale", x.row_scale, off_rs) : nullptr;
  e.residual = residual ? a.f32("residual", x.residual, off_res) : nullptr;
  return x;
}

}  // namespace gemm_args

// The fields of gemm_strided_batched (fused false) or gemm_fused, checked, with their storages
// resolved; *extC is the number of elements C spans (0: the call writes nothing).
template <typename R>
GemmFused read_gemm(R& a, bool fused, int64_t* extC) {
  using namespace gemm_args;
  GemmFused f{};
  GemmBatched& p = f.g;
  p.M = a.size("M"), p.N = a.size("N"), p.K = a.size("K"), p.batch = a.size("batch");
  p.alpha = static_cast<float>(a.number("alpha")), p.beta = static_cast<float>(a.number("beta"));
  const int64_t offC = a.size("offC");
  p.ldc = a.size("ldc"), p.strideC = a.size("strideC");
  check_ld(a, "ldc", p.ldc, p.N, "max(1, N) = ");
  if (fused && p.batch > 1 && p.strideC == 0 && p.M > 0 && p.N > 0)
    a.fail_arg("strideC", "a nonzero stride when batch > 1 (gemm_fused does not sum over the batch)", "0");
  *extC = extent(a, p.batch, p.M, p.N, p.ldc, p.strideC);
  p.C = a.f32("C", *extC, offC);
  int64_t extA, extB;
  p.A = operand(a, fused, false, p.batch, p.M, p.K, &p.lda, &p.strideA, &p.transA, &f.packed_a, &extA);
  p.B = operand(a, fused, true, p.batch, p.N, p.K, &p.ldb, &p.strideB, &p.transB, &f.packed_b, &extB);
  a.check_disjoint("C", p.C, *extC, "A", p.A, extA);
  a.check_disjoint("C", p.C, *extC, "B", p.B, extB);
  if (!fused) return f;
  const int64_t pro = read_prologue(a, p, f.packed_a, f.pro);
  const EpilogueExtents epi = read_epilogue(a, p, f.epi);
  // Everything the prologue and the epilogue read stays apart from what C's pass writes.
  a.check_disjoint("C", p.C, *extC, "scale", f.pro.scale, pro);
  a.check_disjoint("C", p.C, *extC, "shift", f.pro.shift, pro);
  a.check_disjoint("C", p.C, *extC, "bias", f.epi.bias, epi.bias);
  a.check_disjoint("C", p.C, *extC, "rowScale", f.epi.row_scale, epi.row_scale);
  a.check_disjoint("C", p.C, *extC, "residual", f.epi.residual, epi.residual);
  return f;
}

// gemm_pack's fields, checked: the packed output and the source with their extents.
struct PackCall {
  float* out;
  const float* inp;
  GemmPack p;
  int64_t out_numel;
};

template <typename R>
PackCall read_gemm_pack(R& a) {
  using namespace gemm_args;
  PackCall c{};
  GemmPack& p = c.p;
  const int64_t off_out = a.size("offOut"), off_inp = a.size("offInp");
  p.side_b = a.flag("sideB");
  p.rows = a.size("rows"), p.K = a.size("K"), p.batch = a.size("batch");
  p.ld = a.size("ld"), p.stride = a.size("stride");
  p.trans = a.flag("trans");
  // Stored as the GEMM reads the operand: op(A) (rows, K), op(B) (K, rows), each maybe transposed.
  const int64_t srows = p.side_b == p.trans ? p.rows : p.K, scols = p.side_b == p.trans ? p.K : p.rows;
  check_ld(a, "ld", p.ld, scols);
  c.out_numel = a.mul(p.batch, a.mul(gemm_packed_numel(p.side_b, p.rows, 1), p.K));
  const int64_t ext = extent(a, p.batch, srows, scols, p.ld, p.stride);
  c.out = a.f32("out", c.out_numel, off_out);
  c.inp = a.f32("inp", ext, off_inp);
  a.check_disjoint("out", c.out, c.out_numel, "inp", c.inp, ext);
  return c;
}

}  // namespace repmlp

// Dimension coalescing shared by the broadcasting kernels (binary.cc, reduce.cc) and their
// CUDA twins, so both backends see the same simplified problem. Dropping size-1 dimensions
// and merging neighbours that are laid out as one longer dimension turns the common cases
// into short loops: same-shape operands become one dimension, a per-channel (1,C,1,1)
// operand of an (N,C,H,W) tensor becomes (N, C, H*W) with strides (0, 1, 0).
#pragma once
#include <cstdint>
#include <vector>

namespace repmlp {

// The operations of binary_forward.
enum class BinaryOp : int { Add = 0, Sub = 1, Mul = 2 };

// A broadcast elementwise problem: out is contiguous with `shape`; a and b are read with
// their own strides (0 on broadcast dimensions). Never empty: a scalar is shape (1).
struct BinaryPlan {
  std::vector<int64_t> shape, a_strides, b_strides;
  int64_t numel = 1;
};

inline BinaryPlan plan_binary(const std::vector<int64_t>& shape, const std::vector<int64_t>& a_strides,
                              const std::vector<int64_t>& b_strides) {
  BinaryPlan p;
  for (size_t d = 0; d < shape.size(); ++d) {
    p.numel *= shape[d];
    if (shape[d] == 1) continue;  // its strides never matter
    const size_t k = p.shape.size();
    // Merge into the previous (outer) dimension when, for every operand, stepping the outer
    // dimension is the same as stepping the inner one shape[d] times.
    if (k > 0 && p.a_strides[k - 1] == a_strides[d] * shape[d] && p.b_strides[k - 1] == b_strides[d] * shape[d]) {
      p.shape[k - 1] *= shape[d];
      p.a_strides[k - 1] = a_strides[d];
      p.b_strides[k - 1] = b_strides[d];
      continue;
    }
    p.shape.push_back(shape[d]);
    p.a_strides.push_back(a_strides[d]);
    p.b_strides.push_back(b_strides[d]);
  }
  if (p.shape.empty()) p.shape = {1}, p.a_strides = {0}, p.b_strides = {0};
  return p;
}

// sum_to of a contiguous input over the dimensions where out has size 1. After dropping
// size-1 input dimensions and merging neighbours of the same kind, the input is a row-major
// sequence of alternating kept and reduced groups; the output is the kept groups in order.
//   inner_reduced: the last group is reduced. Output o sums P runs of L contiguous elements:
//                  in[base(o) + offset(p) + l], p < P (the outer reduced groups), l < L.
//   otherwise:     the last group is kept (L contiguous outputs per row). Output row q sums
//                  R rows: in[base(q) + offset(r) + l], r < R (all reduced groups), l < L.
// base() walks `kept` (the kept groups, minus the last one when it is the inner group) and
// offset() walks `red` (the reduced groups, minus the last one when it is the inner group).
struct ReducePlan {
  bool inner_reduced = false;
  int64_t in_numel = 1, out_numel = 1;
  int64_t L = 1;      // length of the inner group
  int64_t outer = 1;  // P (inner_reduced) or R: reduced combinations per output element or row
  int64_t rows = 1;   // output elements (inner_reduced) or output rows of L
  std::vector<int64_t> kept_sizes, kept_strides, red_sizes, red_strides;
};

inline ReducePlan plan_reduce(const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape) {
  ReducePlan p;
  std::vector<int64_t> sizes;
  std::vector<bool> reduced;
  for (size_t d = 0; d < in_shape.size(); ++d) {
    p.in_numel *= in_shape[d];
    p.out_numel *= out_shape[d];
    if (in_shape[d] == 1) continue;
    const bool r = out_shape[d] == 1;
    if (!sizes.empty() && reduced.back() == r) sizes.back() *= in_shape[d];
    else sizes.push_back(in_shape[d]), reduced.push_back(r);
  }
  if (sizes.empty()) sizes.push_back(1), reduced.push_back(false);  // one element, nothing to reduce
  const int g = static_cast<int>(sizes.size());
  std::vector<int64_t> strides(g);
  int64_t acc = 1;
  for (int k = g - 1; k >= 0; --k) strides[k] = acc, acc *= sizes[k];
  p.inner_reduced = reduced[g - 1];
  p.L = sizes[g - 1];
  for (int k = 0; k < g - 1; ++k) {
    if (reduced[k]) p.red_sizes.push_back(sizes[k]), p.red_strides.push_back(strides[k]);
    else p.kept_sizes.push_back(sizes[k]), p.kept_strides.push_back(strides[k]);
  }
  int64_t kept = 1, red = 1;
  for (auto s : p.kept_sizes) kept *= s;
  for (auto s : p.red_sizes) red *= s;
  p.rows = kept;
  p.outer = red;
  return p;
}

// Walks a multi-index over (sizes, strides) in row-major order, tracking the element offset.
struct OffsetWalker {
  const int64_t* sizes;
  const int64_t* strides;
  int n;
  int64_t idx[8] = {0};
  int64_t offset = 0;

  OffsetWalker(const std::vector<int64_t>& s, const std::vector<int64_t>& st)
      : sizes(s.data()), strides(st.data()), n(static_cast<int>(s.size())) {}

  // Positions the walker at the k-th combination.
  void seek(int64_t k) {
    offset = 0;
    for (int d = n - 1; d >= 0; --d) {
      idx[d] = k % sizes[d];
      offset += idx[d] * strides[d];
      k /= sizes[d];
    }
  }
  void next() {
    for (int d = n - 1; d >= 0; --d) {
      offset += strides[d];
      if (++idx[d] < sizes[d]) return;
      offset -= strides[d] * sizes[d];
      idx[d] = 0;
    }
  }
};

}  // namespace repmlp

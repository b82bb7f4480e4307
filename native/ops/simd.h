// GCC vector types for the hand-vectorised CPU loops (the GEMM's tiles, ops/gemm_tile.h; the
// depthwise planes, ops/conv2d_depthwise.cc). Inside an AVX-512 clone a v16f is one register,
// inside an AVX2 one two, in the baseline four: the same source serves every clone.
#pragma once
#include <cstring>

namespace repmlp::cpu {

typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
// The helpers below pass vectors by value but are always inlined, so no call ever uses the
// AVX calling convention from the baseline clone.
#pragma GCC diagnostic ignored "-Wpsabi"

// A vector of L floats (v8f or v16f) loaded from and stored to memory of any alignment.
template <typename V>
constexpr int kLanes = sizeof(V) / sizeof(float);
template <typename V>
inline __attribute__((always_inline)) V loadv(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
inline __attribute__((always_inline)) void storev(float* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace repmlp::cpu

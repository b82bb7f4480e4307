// Checked size arithmetic for the bindings. Sizes, offsets and strides come from JS, so a
// product of sizes, an offset plus a count or the last element a strided view reaches can
// exceed 64 bits; wrapped, it would pass a bounds check and the kernel would write outside
// its buffers. Everything here computes in 64 bits with overflow detection and throws an
// Error naming the op instead. JS numbers hold integers exactly only up to 2^53 - 1
// (Number.MAX_SAFE_INTEGER), so that is the range integer arguments are accepted in: it
// keeps double -> int64 conversions defined, and sums of a few such values far from 2^63.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

#include "common.h"

namespace repmlp {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

// Whether v is an integer a JS number holds exactly (NaN and infinities are not).
inline bool is_safe_integer(double v) { return v >= -kMaxSafeInteger && v <= kMaxSafeInteger && v == std::trunc(v); }

// v for error messages: integers in full (no exponent below 1e21), NaN, Infinity, else the
// shortest decimal that reads back as v.
inline std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (is_safe_integer(v)) return std::to_string(static_cast<int64_t>(v));
  char buf[40];
  if (v == std::trunc(v) && std::fabs(v) < 1e21) {  // an integer too large for int64 arithmetic: all its digits
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {  // the shortest form that reads back as v
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

[[noreturn]] inline void fail_overflow(const char* op, const char* what, int64_t a, int64_t b, const char* sign) {
  throw Error(std::string(op) + ": expected sizes whose " + what + " fits in 64 bits but received " + std::to_string(a) +
              sign + std::to_string(b));
}

// a + b, or an Error from `op` when it does not fit in int64.
inline int64_t checked_add(const char* op, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) fail_overflow(op, "sum", a, b, " + ");
  return r;
}

// a * b, or an Error from `op` when it does not fit in int64.
inline int64_t checked_mul(const char* op, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail_overflow(op, "product", a, b, " * ");
  return r;
}

// The product of sizes (1 when there are none): 0 when any size is 0, however large the
// others (an empty tensor of shape (2^40, 2^40, 0) is valid), else checked.
template <typename Sizes>
int64_t checked_product_of(const char* op, const Sizes& sizes) {
  for (int64_t x : sizes)
    if (x == 0) return 0;
  int64_t p = 1;
  for (int64_t x : sizes) p = checked_mul(op, p, x);
  return p;
}
inline int64_t checked_product(const char* op, std::initializer_list<int64_t> sizes) { return checked_product_of(op, sizes); }
inline int64_t checked_product(const char* op, const std::vector<int64_t>& sizes) { return checked_product_of(op, sizes); }

// The elements a strided view reaches from its first one: 1 + sum((shape[d] - 1) * strides[d]),
// or 0 when the view is empty (then its strides never matter). Strides must be non-negative
// (the kernels step forward only); shape and strides have the same length (checked by the
// caller, which knows the argument names).
inline int64_t checked_extent(const char* op, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  for (int64_t s : shape)
    if (s == 0) return 0;
  int64_t last = 0;
  for (size_t d = 0; d < shape.size(); ++d) last = checked_add(op, last, checked_mul(op, shape[d] - 1, strides[d]));
  return checked_add(op, last, 1);
}

}  // namespace repmlp

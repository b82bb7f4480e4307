// strided_copy: materialises a view (shape, strides, offset) of one storage into a
// contiguous buffer. Serves contiguous(), permute (partition / un-partition), broadcasts
// (stride 0) and their backward passes. fill: sets every element to one value.
#include "copy.h"
#include "../args.h"
#include "../parallel.h"

namespace repmlp {
namespace cpu {

namespace {

// The view with its size-1 dimensions dropped and each dimension merged into the one before
// it where that one steps exactly over it (the same elements in the same order, fewer and
// longer rows).
void coalesce(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides, std::vector<int64_t>& out_shape,
              std::vector<int64_t>& out_strides) {
  out_shape.clear();
  out_strides.clear();
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!out_shape.empty() && out_strides.back() == shape[d] * strides[d]) {
      out_shape.back() *= shape[d];
      out_strides.back() = strides[d];
    } else {
      out_shape.push_back(shape[d]);
      out_strides.push_back(strides[d]);
    }
  }
  if (out_shape.empty()) out_shape.push_back(1), out_strides.push_back(1);
}

}  // namespace

// out: (prod(shape)) contiguous; inp: view with `strides` starting at element `inp` points to.
// Rows of the innermost dimension, each chunk of rows walking the outer indices as an
// odometer (one division per chunk, not per row).
template <typename T>
void strided_copy(T* out, const T* inp, const std::vector<int64_t>& view_shape, const std::vector<int64_t>& view_strides) {
  std::vector<int64_t> shape, strides;
  coalesce(view_shape, view_strides, shape, strides);
  const int nd = static_cast<int>(shape.size());
  int64_t n = 1;
  for (auto s : shape) n *= s;
  const int64_t inner = shape[nd - 1], inner_stride = strides[nd - 1];
  const int64_t rows = inner ? n / inner : 0;
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> idx(nd, 0);
    int64_t off = 0;
    for (int64_t d = nd - 2, rem = r0; d >= 0; --d) {
      idx[d] = rem % shape[d];
      off += idx[d] * strides[d];
      rem /= shape[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      T* o = out + r * inner;
      const T* p = inp + off;
      if (inner_stride == 1)
        for (int64_t i = 0; i < inner; ++i) o[i] = p[i];
      else
        for (int64_t i = 0; i < inner; ++i) o[i] = p[i * inner_stride];
      for (int d = nd - 2; d >= 0; --d) {  // the next row's outer index
        off += strides[d];
        if (++idx[d] < shape[d]) break;
        off -= shape[d] * strides[d];
        idx[d] = 0;
      }
    }
  });
}

template <typename T>
void fill(T* out, T value, int64_t n) {
  parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = value;
  });
}

}  // namespace cpu

void cpu::strided_copy_f32(float* out, const float* inp, const std::vector<int64_t>& shape,
                                const std::vector<int64_t>& strides) {
  strided_copy(out, inp, shape, strides);
}
void cpu::strided_copy_i64(int64_t* out, const int64_t* inp, const std::vector<int64_t>& shape,
                                const std::vector<int64_t>& strides) {
  strided_copy(out, inp, shape, strides);
}
void cpu::fill_f32(float* out, float value, int64_t n) { fill(out, value, n); }
void cpu::fill_i64(int64_t* out, int64_t value, int64_t n) { fill(out, value, n); }


// strided_copy(out, outOffset, inp, inpOffset, shape, strides): writes the view of inp
// densely into out from element outOffset; out and inp share a dtype. They may be one
// storage when the ranges written and read are apart.
static Napi::Value strided_copy(const Napi::CallbackInfo& info) {
  Args a(info, "strided_copy", 6);
  const int64_t out_offset = a.size(1, "outOffset"), offset = a.size(3, "inpOffset");
  const auto shape = a.dims(4, "shape"), strides = a.dims(5, "strides");
  const int64_t n = a.product(shape), extent = a.extent(shape, strides, "strides", "shape");
  const bool is_f32 = a.dtype_of(0, "out") == DType::F32;
  if (is_f32) {
    float* out = a.f32(0, "out", n, out_offset);
    const float* inp = a.f32(2, "inp", extent, offset);
    a.check_disjoint("out", out, n, "inp", inp, extent);
    if (n == 0) return info.Env().Undefined();
    REPMLP_DISPATCH(a, strided_copy_f32, out, inp, shape, strides);
  } else {
    int64_t* out = a.i64(0, "out", n, out_offset);
    const int64_t* inp = a.i64(2, "inp", extent, offset);
    a.check_disjoint("out", out, n, "inp", inp, extent);
    if (n == 0) return info.Env().Undefined();
    REPMLP_DISPATCH(a, strided_copy_i64, out, inp, shape, strides);
  }
  return info.Env().Undefined();
}

// fill(out, value, offset, n)
static Napi::Value fill(const Napi::CallbackInfo& info) {
  Args a(info, "fill", 4);
  const int64_t offset = a.size(2, "offset"), n = a.size(3, "n");
  const bool is_f32 = a.dtype_of(0, "out") == DType::F32;
  if (is_f32) {
    const double value = a.number(1, "value");
    float* out = a.f32(0, "out", n, offset);
    REPMLP_DISPATCH(a, fill_f32, out, static_cast<float>(value), n);
  } else {
    // An int64 storage takes integers only: converting NaN or 1e300 to int64 is undefined.
    const int64_t value = a.integer(1, "value");
    int64_t* out = a.i64(0, "out", n, offset);
    REPMLP_DISPATCH(a, fill_i64, out, value, n);
  }
  return info.Env().Undefined();
}

void register_copy(Napi::Object exports) {
  REPMLP_EXPORT(exports, strided_copy);
  REPMLP_EXPORT(exports, fill);
}

}  // namespace repmlp

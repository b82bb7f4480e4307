// Broadcasting elementwise add / sub / mul: out = a (op) b, where a and b are read through
// strides that are 0 on their broadcast dimensions (PyTorch rules, resolved in TypeScript).
// The backward passes are compositions done in lib/ops/arithmetic.ts: the gradient of a
// broadcast operand is sum_to (reduce.cc) of dout, or of dout * other for mul, which is
// binary_forward again.
#include "binary.h"
#include "../args.h"
#include "../parallel.h"
#include "broadcast.h"

namespace repmlp {

namespace cpu {

template <typename F>
static void binary_loop(float* out, const float* a, const float* b, const BinaryPlan& p, F f) {
  const int nd = static_cast<int>(p.shape.size());
  const int64_t inner = p.shape[nd - 1], sa = p.a_strides[nd - 1], sb = p.b_strides[nd - 1];
  const int64_t rows = p.numel / inner;
  // The outer dimensions (all but the innermost) are walked once per row.
  const std::vector<int64_t> outer(p.shape.begin(), p.shape.end() - 1);
  const std::vector<int64_t> outer_a(p.a_strides.begin(), p.a_strides.end() - 1);
  const std::vector<int64_t> outer_b(p.b_strides.begin(), p.b_strides.end() - 1);
  parallel_for(rows, std::max<int64_t>(1, 32768 / inner), [&](int64_t r0, int64_t r1) {
    OffsetWalker wa(outer, outer_a), wb(outer, outer_b);
    wa.seek(r0);
    wb.seek(r0);
    for (int64_t r = r0; r < r1; ++r, wa.next(), wb.next()) {
      float* __restrict__ o = out + r * inner;
      const float* __restrict__ pa = a + wa.offset;
      const float* __restrict__ pb = b + wb.offset;
      if (sa == 1 && sb == 1) {
        for (int64_t i = 0; i < inner; ++i) o[i] = f(pa[i], pb[i]);
      } else if (sa == 1 && sb == 0) {  // b broadcast along the row (per-channel operand)
        const float vb = *pb;
        for (int64_t i = 0; i < inner; ++i) o[i] = f(pa[i], vb);
      } else if (sa == 0 && sb == 1) {
        const float va = *pa;
        for (int64_t i = 0; i < inner; ++i) o[i] = f(va, pb[i]);
      } else {
        for (int64_t i = 0; i < inner; ++i) o[i] = f(pa[i * sa], pb[i * sb]);
      }
    }
  });
}

}  // namespace cpu

// out: (prod(shape)) contiguous; a, b: views of `shape` with aStrides / bStrides (0 where broadcast).
void cpu::binary_forward(float* out, const float* a, const float* b, BinaryOp op, const std::vector<int64_t>& shape,
                         const std::vector<int64_t>& a_strides, const std::vector<int64_t>& b_strides) {
  const BinaryPlan p = plan_binary(shape, a_strides, b_strides);
  if (p.numel == 0) return;
  switch (op) {
    case BinaryOp::Add: binary_loop(out, a, b, p, [](float x, float y) { return x + y; }); break;
    case BinaryOp::Sub: binary_loop(out, a, b, p, [](float x, float y) { return x - y; }); break;
    case BinaryOp::Mul: binary_loop(out, a, b, p, [](float x, float y) { return x * y; }); break;
  }
}


// binary_forward(out, a, b, op, outShape, aStrides, bStrides); op is 'add', 'sub' or 'mul'.
static Napi::Value binary_forward(const Napi::CallbackInfo& info) {
  Args a(info, "binary_forward", 7);
  const BinaryOp op = static_cast<BinaryOp>(a.choice(3, "op", {"add", "sub", "mul"}));
  const auto shape = a.dims(4, "outShape"), sa = a.dims(5, "aStrides"), sb = a.dims(6, "bStrides");
  const int64_t n = a.product(shape), ea = a.extent(shape, sa, "aStrides", "outShape"), eb = a.extent(shape, sb, "bStrides", "outShape");
  float* out = a.f32(0, "out", n);
  const float* pa = a.f32(1, "a", ea);
  const float* pb = a.f32(2, "b", eb);
  // The kernels read a and b through __restrict__ pointers while writing out, and a
  // broadcast operand is read again after out's first elements are written.
  a.check_distinct({{"out", out}}, {{"out", out}, {"a", pa}, {"b", pb}});
  if (n == 0) return info.Env().Undefined();
  REPMLP_DISPATCH(a, binary_forward, out, pa, pb, op, shape, sa, sb);
  return info.Env().Undefined();
}

void register_binary(Napi::Object exports) { REPMLP_EXPORT(exports, binary_forward); }

}  // namespace repmlp

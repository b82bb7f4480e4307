// bias_grad: the gradient of a bias added along dimension 1, dbias[c] = sum over n and p of
// dout[n, c, p]. Serves the bias of linear (HW = 1), conv1x1 and the set-sharing FC.
// Sums accumulate in double.
#include <vector>

#include "bias_grad.h"
#include "../args.h"
#include "../parallel.h"

namespace repmlp {
// dbias: (C); dout: (N, C, HW)
void cpu::bias_grad(float* dbias, const float* dout, int64_t N, int64_t C, int64_t HW) {
  if (HW == 1) {
    // Rows of dout are contiguous over c: add them into a block of double accumulators.
    parallel_for(C, std::max<int64_t>(64, (1 << 15) / std::max<int64_t>(N, 1)), [&](int64_t c0, int64_t c1) {
      std::vector<double> acc(c1 - c0, 0.0);
      for (int64_t n = 0; n < N; ++n) {
        const float* row = dout + n * C + c0;
        for (int64_t c = 0; c < c1 - c0; ++c) acc[c] += row[c];
      }
      for (int64_t c = c0; c < c1; ++c) dbias[c] = static_cast<float>(acc[c - c0]);
    });
    return;
  }
  parallel_for(C, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(N * HW, 1)), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double s = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        const float* p = dout + (n * C + c) * HW;
        for (int64_t i = 0; i < HW; ++i) s += p[i];
      }
      dbias[c] = static_cast<float>(s);
    }
  });
}


// bias_grad(dbias, dout, N, C, HW)
static Napi::Value bias_grad(const Napi::CallbackInfo& info) {
  Args a(info, "bias_grad", 5);
  const int64_t N = a.size(2, "N"), C = a.size(3, "C"), HW = a.size(4, "HW");
  const int64_t n = a.product({N, C, HW});
  float* dbias = a.f32(0, "dbias", C);
  const float* dout = a.f32(1, "dout", n);
  a.check_distinct({{"dbias", dbias}}, {{"dbias", dbias}, {"dout", dout}});
  if (C == 0) return info.Env().Undefined();
  // Nothing to sum (N or HW is 0): the kernels would still loop over the other size.
  if (n == 0) return a.zero(dbias, C), info.Env().Undefined();
  REPMLP_DISPATCH(a, bias_grad, dbias, dout, N, C, HW);
  return info.Env().Undefined();
}

void register_bias_grad(Napi::Object exports) { REPMLP_EXPORT(exports, bias_grad); }

}  // namespace repmlp

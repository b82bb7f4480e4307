// The number of rows whose largest logit is at the label: out[0] = sum over i of
// (argmax_k logits[i, k] == labels[i]), as a float, with torch.argmax's rule (the first of
// equal maxima; a NaN counts as the largest). Not differentiable. It lets a training loop
// count its train accuracy on the device and read it back only when it logs.
#include <cmath>

#include "correct_count.h"
#include "../args.h"

namespace repmlp {
// out: (1); logits: (N, K); labels: (N) int64
void cpu::correct_count(float* out, const float* logits, const int64_t* labels, int64_t N, int64_t K) {
  int64_t count = 0;
  for (int64_t i = 0; i < N; ++i) {
    const float* row = logits + i * K;
    int64_t best = 0;
    for (int64_t k = 1; k < K; ++k)
      if (row[k] > row[best] || (std::isnan(row[k]) && !std::isnan(row[best]))) best = k;
    count += best == labels[i];
  }
  out[0] = static_cast<float>(count);
}


// correct_count(out, logits, labels, N, K)
static Napi::Value correct_count(const Napi::CallbackInfo& info) {
  Args a(info, "correct_count", 5);
  const int64_t N = a.size(3, "N"), K = a.size(4, "K");
  if (K < 1) a.fail_arg("K", "at least 1 class", std::to_string(K));
  float* out = a.f32(0, "out", 1);
  const float* logits = a.f32(1, "logits", a.mul(N, K));
  const int64_t* labels = a.i64(2, "labels", N);
  a.check_distinct({{"out", out}}, {{"out", out}, {"logits", logits}});
  REPMLP_DISPATCH(a, correct_count, out, logits, labels, N, K);
  return info.Env().Undefined();
}

void register_correct_count(Napi::Object exports) { REPMLP_EXPORT(exports, correct_count); }

}  // namespace repmlp

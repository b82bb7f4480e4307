// Fused in-place AdamW step with torch.optim.AdamW's semantics (amsgrad off), for one
// tensor of n elements at step t (t >= 1, already counted):
//   p <- p * (1 - lr * wd)                               (decoupled weight decay)
//   m <- b1 * m + (1 - b1) * g
//   v <- b2 * v + (1 - b2) * g^2
//   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The bias corrections are computed once per call in double; the elementwise update runs
// in float like PyTorch's. Hyperparameters arrive as doubles (JS numbers).
#include <cmath>

#include "../args.h"
#include "../parallel.h"

namespace repmlp {
namespace cpu {

// param, exp_avg, exp_avg_sq, grad: (n)
void adamw_step(float* param, float* exp_avg, float* exp_avg_sq, const float* grad, int64_t n, double lr,
                double beta1, double beta2, double eps, double weight_decay, int64_t step) {
  const float decay = static_cast<float>(1.0 - lr * weight_decay);
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2), epsf = static_cast<float>(eps);
  const float one_b1 = static_cast<float>(1.0 - beta1), one_b2 = static_cast<float>(1.0 - beta2);
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const float step_size = static_cast<float>(lr / bc1), bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  // GCC vectorises this loop only under -fno-math-errno (sqrt keeps an errno branch
  // otherwise); the step is memory-bound either way.
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float g = grad[i];
      const float m = exp_avg[i] * b1 + one_b1 * g;
      const float v = exp_avg_sq[i] * b2 + one_b2 * (g * g);
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      param[i] = param[i] * decay - step_size * (m / (std::sqrt(v) / bc2_sqrt + epsf));
    }
  });
}

}  // namespace cpu

// adamw_step(param, expAvg, expAvgSq, grad, n, lr, beta1, beta2, eps, weightDecay, step)
static Napi::Value adamw_step(const Napi::CallbackInfo& info) {
  Args a(info, "adamw_step", 11);
  const int64_t n = a.size(4, "n");
  const double lr = a.number(5, "lr"), beta1 = a.number(6, "beta1"), beta2 = a.number(7, "beta2");
  const double eps = a.number(8, "eps"), wd = a.number(9, "weightDecay");
  const int64_t step = a.size(10, "step");
  if (step < 1) a.fail_arg("step", "a step count >= 1", std::to_string(step));
  if (!(beta1 >= 0 && beta1 < 1)) a.fail_arg("beta1", "a number in [0, 1)", std::to_string(beta1));
  if (!(beta2 >= 0 && beta2 < 1)) a.fail_arg("beta2", "a number in [0, 1)", std::to_string(beta2));
  float* param = a.f32(0, "param", n);
  float* exp_avg = a.f32(1, "expAvg", n);
  float* exp_avg_sq = a.f32(2, "expAvgSq", n);
  const float* grad = a.f32(3, "grad", n);
  if (a.device() == Device::CPU) cpu::adamw_step(param, exp_avg, exp_avg_sq, grad, n, lr, beta1, beta2, eps, wd, step);
  else REPMLP_CUDA(a, adamw_step(param, exp_avg, exp_avg_sq, grad, n, lr, beta1, beta2, eps, wd, step));
  return info.Env().Undefined();
}

void register_adamw(Napi::Object exports) { REPMLP_EXPORT(exports, adamw_step); }

}  // namespace repmlp

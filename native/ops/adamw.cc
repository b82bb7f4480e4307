// Fused multi-tensor AdamW step with torch.optim.AdamW's semantics (amsgrad off): one call
// updates every parameter of a group in place. For tensor k (n_k elements) at its step t_k
// (t >= 1, already counted):
//   p <- p * (1 - lr * wd)                               (decoupled weight decay)
//   m <- b1 * m + (1 - b1) * g
//   v <- b2 * v + (1 - b2) * g^2
//   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The bias corrections are computed per tensor in double; the elementwise update runs in
// float like PyTorch's. Hyperparameters arrive as doubles (JS numbers). The CUDA twin
// updates up to 24 tensors per launch (cuda/adamw.cu).
#include <cmath>

#include "adamw.h"
#include "../args.h"
#include "../parallel.h"

namespace repmlp {
// params[k], exp_avgs[k], exp_avg_sqs[k], grads[k]: (ns[k])
void cpu::adamw_step(const std::vector<float*>& params, const std::vector<float*>& exp_avgs,
                     const std::vector<float*>& exp_avg_sqs, const std::vector<const float*>& grads,
                     const std::vector<int64_t>& ns, const std::vector<int64_t>& steps, const AdamwHyper& hyper) {
  const double lr = hyper.lr, beta1 = hyper.beta1, beta2 = hyper.beta2, eps = hyper.eps, weight_decay = hyper.weight_decay;
  const float decay = static_cast<float>(1.0 - lr * weight_decay);
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2), epsf = static_cast<float>(eps);
  const float one_b1 = static_cast<float>(1.0 - beta1), one_b2 = static_cast<float>(1.0 - beta2);
  for (size_t k = 0; k < params.size(); ++k) {
    const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(steps[k]));
    const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(steps[k]));
    const float step_size = static_cast<float>(lr / bc1), bc2_sqrt = static_cast<float>(std::sqrt(bc2));
    float *param = params[k], *exp_avg = exp_avgs[k], *exp_avg_sq = exp_avg_sqs[k];
    const float* grad = grads[k];
    // GCC vectorises this loop only under -fno-math-errno (sqrt keeps an errno branch
    // otherwise); the step is memory-bound either way.
    parallel_for(ns[k], 1 << 14, [&](int64_t b, int64_t e) {
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
}


// adamw_step({params[], expAvgs[], expAvgSqs[], grads[], ns[], steps[], lr, beta1, beta2, eps, weightDecay})
static Napi::Value adamw_step(const Napi::CallbackInfo& info) {
  Args a(info, "adamw_step", Args::named);
  const std::vector<int64_t> ns = a.sizes("ns"), steps = a.sizes("steps");
  if (steps.size() != ns.size()) a.fail_arg("steps", std::to_string(ns.size()) + " step counts", std::to_string(steps.size()));
  for (int64_t t : steps)
    if (t < 1) a.fail_arg("steps", "step counts >= 1", std::to_string(t));
  const AdamwHyper hyper{a.number("lr"), a.number("beta1"), a.number("beta2"), a.number("eps"), a.number("weightDecay")};
  if (!(hyper.beta1 >= 0 && hyper.beta1 < 1)) a.fail_arg("beta1", "a number in [0, 1)", std::to_string(hyper.beta1));
  if (!(hyper.beta2 >= 0 && hyper.beta2 < 1)) a.fail_arg("beta2", "a number in [0, 1)", std::to_string(hyper.beta2));
  const std::vector<float*> params = a.f32_list("params", ns), exp_avgs = a.f32_list("expAvgs", ns);
  const std::vector<float*> exp_avg_sqs = a.f32_list("expAvgSqs", ns);
  const std::vector<float*> g = a.f32_list("grads", ns);
  const std::vector<const float*> grads(g.begin(), g.end());  // read only
  // Every tensor is updated in place, element by element, reading its param, moments and
  // grad: a storage given twice would be updated twice, or read after its own update.
  a.check_distinct_lists({{"params", params}, {"expAvgs", exp_avgs}, {"expAvgSqs", exp_avg_sqs}}, {{"grads", g}});
  if (params.empty()) return info.Env().Undefined();
  REPMLP_DISPATCH(a, adamw_step, params, exp_avgs, exp_avg_sqs, grads, ns, steps, hyper);
  return info.Env().Undefined();
}

void register_adamw(Napi::Object exports) { REPMLP_EXPORT(exports, adamw_step); }

}  // namespace repmlp

// Fused multi-tensor SGD steps with torch.optim.SGD's semantics: one call updates every
// parameter of a group in place. For each tensor (n elements):
//   d = g + wd * p
//   momentum == 0:  p <- p - lr * d                                 (sgd_step)
//   momentum > 0:   buf <- d on the tensor's first step,            (sgd_momentum_step)
//                   else buf <- momentum * buf + (1 - dampening) * d
//                   p <- p - lr * (nesterov ? d + momentum * buf : buf)
// The gradient is read, never written. The CUDA twin updates up to 24 tensors per launch.
#include "sgd.h"
#include "../args.h"
#include "../parallel.h"

namespace repmlp {
// params[k], grads[k]: (ns[k])
void cpu::sgd_step(const std::vector<float*>& params, const std::vector<const float*>& grads, const std::vector<int64_t>& ns,
                   float lr, float weight_decay) {
  for (size_t k = 0; k < params.size(); ++k) {
    float* param = params[k];
    const float* grad = grads[k];
    parallel_for(ns[k], 1 << 15, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) param[i] -= lr * (grad[i] + weight_decay * param[i]);
    });
  }
}

// params[k], momentum_buffers[k], grads[k]: (ns[k]); firsts[k]: the buffer is uninitialised
void cpu::sgd_momentum_step(const std::vector<float*>& params, const std::vector<float*>& momentum_buffers,
                            const std::vector<const float*>& grads, const std::vector<int64_t>& ns,
                            const std::vector<bool>& firsts, const SgdMomentumHyper& hyper) {
  const float lr = hyper.lr, momentum = hyper.momentum, dampening = hyper.dampening, weight_decay = hyper.weight_decay;
  const bool nesterov = hyper.nesterov;
  const float take = 1.f - dampening;
  for (size_t k = 0; k < params.size(); ++k) {
    float *param = params[k], *momentum_buffer = momentum_buffers[k];
    const float* grad = grads[k];
    const bool first = firsts[k];
    parallel_for(ns[k], 1 << 15, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float d = grad[i] + weight_decay * param[i];
        const float buf = first ? d : momentum_buffer[i] * momentum + take * d;
        momentum_buffer[i] = buf;
        param[i] -= lr * (nesterov ? d + momentum * buf : buf);
      }
    });
  }
}


static std::vector<const float*> read_only(const std::vector<float*>& v) { return {v.begin(), v.end()}; }

// sgd_step(params[], grads[], ns[], lr, weightDecay)
static Napi::Value sgd_step(const Napi::CallbackInfo& info) {
  Args a(info, "sgd_step", 5);
  const std::vector<int64_t> ns = a.sizes(2, "ns");
  const float lr = static_cast<float>(a.number(3, "lr")), wd = static_cast<float>(a.number(4, "weightDecay"));
  const std::vector<float*> params = a.f32_list(0, "params", ns), g = a.f32_list(1, "grads", ns);
  a.check_distinct_lists({{"params", params}}, {{"grads", g}});  // in place: each storage once
  const std::vector<const float*> grads = read_only(g);
  if (params.empty()) return info.Env().Undefined();
  REPMLP_DISPATCH(a, sgd_step, params, grads, ns, lr, wd);
  return info.Env().Undefined();
}

// sgd_momentum_step({params[], momentumBuffers[], grads[], ns[], firsts[], lr, momentum, dampening, weightDecay, nesterov})
static Napi::Value sgd_momentum_step(const Napi::CallbackInfo& info) {
  Args a(info, "sgd_momentum_step", Args::named);
  const std::vector<int64_t> ns = a.sizes("ns");
  const std::vector<bool> firsts = a.flags("firsts");
  if (firsts.size() != ns.size()) a.fail_arg("firsts", std::to_string(ns.size()) + " flags", std::to_string(firsts.size()));
  const auto f32 = [&](const char* name) { return static_cast<float>(a.number(name)); };
  const SgdMomentumHyper hyper{f32("lr"), f32("momentum"), f32("dampening"), f32("weightDecay"), a.flag("nesterov")};
  const std::vector<float*> params = a.f32_list("params", ns), bufs = a.f32_list("momentumBuffers", ns);
  const std::vector<float*> g = a.f32_list("grads", ns);
  a.check_distinct_lists({{"params", params}, {"momentumBuffers", bufs}}, {{"grads", g}});  // in place: each storage once
  const std::vector<const float*> grads = read_only(g);
  if (params.empty()) return info.Env().Undefined();
  REPMLP_DISPATCH(a, sgd_momentum_step, params, bufs, grads, ns, firsts, hyper);
  return info.Env().Undefined();
}

void register_sgd(Napi::Object exports) {
  REPMLP_EXPORT(exports, sgd_step);
  REPMLP_EXPORT(exports, sgd_momentum_step);
}

}  // namespace repmlp

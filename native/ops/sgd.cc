// Fused in-place SGD steps with torch.optim.SGD's semantics, for one tensor of n elements:
//   d = g + wd * p
//   momentum == 0:  p <- p - lr * d                                 (sgd_step)
//   momentum > 0:   buf <- d on the first step,                     (sgd_momentum_step)
//                   else buf <- momentum * buf + (1 - dampening) * d
//                   p <- p - lr * (nesterov ? d + momentum * buf : buf)
// The gradient is read, never written.
#include "../args.h"
#include "../parallel.h"

namespace repmlp {
namespace cpu {

// param, grad: (n)
void sgd_step(float* param, const float* grad, int64_t n, float lr, float weight_decay) {
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) param[i] -= lr * (grad[i] + weight_decay * param[i]);
  });
}

// param, momentum_buffer, grad: (n)
void sgd_momentum_step(float* param, float* momentum_buffer, const float* grad, int64_t n, float lr, float momentum,
                       float dampening, float weight_decay, bool nesterov, bool first) {
  const float take = 1.f - dampening;
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float d = grad[i] + weight_decay * param[i];
      const float buf = first ? d : momentum_buffer[i] * momentum + take * d;
      momentum_buffer[i] = buf;
      param[i] -= lr * (nesterov ? d + momentum * buf : buf);
    }
  });
}

}  // namespace cpu

// sgd_step(param, grad, n, lr, weightDecay)
static Napi::Value sgd_step(const Napi::CallbackInfo& info) {
  Args a(info, "sgd_step", 5);
  const int64_t n = a.size(2, "n");
  const float lr = static_cast<float>(a.number(3, "lr")), wd = static_cast<float>(a.number(4, "weightDecay"));
  float* param = a.f32(0, "param", n);
  const float* grad = a.f32(1, "grad", n);
  if (a.device() == Device::CPU) cpu::sgd_step(param, grad, n, lr, wd);
  else REPMLP_CUDA(a, sgd_step(param, grad, n, lr, wd));
  return info.Env().Undefined();
}

// sgd_momentum_step(param, momentumBuffer, grad, n, lr, momentum, dampening, weightDecay, nesterov, first)
static Napi::Value sgd_momentum_step(const Napi::CallbackInfo& info) {
  Args a(info, "sgd_momentum_step", 10);
  const int64_t n = a.size(3, "n");
  const float lr = static_cast<float>(a.number(4, "lr")), momentum = static_cast<float>(a.number(5, "momentum"));
  const float dampening = static_cast<float>(a.number(6, "dampening")), wd = static_cast<float>(a.number(7, "weightDecay"));
  const bool nesterov = a.flag(8, "nesterov"), first = a.flag(9, "first");
  float* param = a.f32(0, "param", n);
  float* buf = a.f32(1, "momentumBuffer", n);
  const float* grad = a.f32(2, "grad", n);
  if (a.device() == Device::CPU) cpu::sgd_momentum_step(param, buf, grad, n, lr, momentum, dampening, wd, nesterov, first);
  else REPMLP_CUDA(a, sgd_momentum_step(param, buf, grad, n, lr, momentum, dampening, wd, nesterov, first));
  return info.Env().Undefined();
}

void register_sgd(Napi::Object exports) {
  REPMLP_EXPORT(exports, sgd_step);
  REPMLP_EXPORT(exports, sgd_momentum_step);
}

}  // namespace repmlp

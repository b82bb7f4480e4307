// The sgd kernels, declared once for the CPU (ops/sgd.cc) and for CUDA (cuda/sgd.cu).
#pragma once
#include <cstdint>
#include <vector>

#include "../common.h"

namespace repmlp {

// torch.optim.SGD's hyperparameters when momentum > 0.
struct SgdMomentumHyper {
  float lr, momentum, dampening, weight_decay;
  bool nesterov;
};

}  // namespace repmlp

REPMLP_KERNELS(
  // multi-tensor: element k of each list has ns[k] elements; firsts[k]: its buffer is not yet set
  void sgd_step(const std::vector<float*>& params, const std::vector<const float*>& grads, const std::vector<int64_t>& ns,
                float lr, float weight_decay);
  void sgd_momentum_step(const std::vector<float*>& params, const std::vector<float*>& momentum_buffers,
                         const std::vector<const float*>& grads, const std::vector<int64_t>& ns,
                         const std::vector<bool>& firsts, const SgdMomentumHyper& hyper);
)

// The sgd kernels, declared once for the CPU (ops/sgd.cc) and for CUDA (cuda/sgd.cu).
#pragma once
#include <cstdint>
#include <vector>

#include "../common.h"

REPMLP_KERNELS(
  // multi-tensor
  void sgd_step(const std::vector<float*>& params, const std::vector<const float*>& grads, const std::vector<int64_t>& ns,
                float lr, float weight_decay);
  void sgd_momentum_step(const std::vector<float*>& params, const std::vector<float*>& momentum_buffers,
                         const std::vector<const float*>& grads, const std::vector<int64_t>& ns,
                         const std::vector<bool>& firsts, float lr, float momentum, float dampening, float weight_decay,
                         bool nesterov);
)

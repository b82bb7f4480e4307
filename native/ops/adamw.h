// The adamw kernels, declared once for the CPU (ops/adamw.cc) and for CUDA (cuda/adamw.cu).
#pragma once
#include <cstdint>
#include <vector>

#include "../common.h"

namespace repmlp {

// torch.optim.AdamW's hyperparameters (amsgrad off), as doubles (JS numbers).
struct AdamwHyper {
  double lr, beta1, beta2, eps, weight_decay;
};

}  // namespace repmlp

REPMLP_KERNELS(
  // multi-tensor: element k of each list has ns[k] elements; steps[k] >= 1 is its step count
  void adamw_step(const std::vector<float*>& params, const std::vector<float*>& exp_avgs,
                  const std::vector<float*>& exp_avg_sqs, const std::vector<const float*>& grads,
                  const std::vector<int64_t>& ns, const std::vector<int64_t>& steps, const AdamwHyper& hyper);
)

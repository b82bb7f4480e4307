// The adamw kernels, declared once for the CPU (ops/adamw.cc) and for CUDA (cuda/adamw.cu).
#pragma once
#include <cstdint>
#include <vector>

#include "../common.h"

REPMLP_KERNELS(
  // multi-tensor: element k of each list has ns[k] elements
  void adamw_step(const std::vector<float*>& params, const std::vector<float*>& exp_avgs,
                  const std::vector<float*>& exp_avg_sqs, const std::vector<const float*>& grads,
                  const std::vector<int64_t>& ns, const std::vector<int64_t>& steps, double lr, double beta1,
                  double beta2, double eps, double weight_decay);
)

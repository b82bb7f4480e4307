// CUDA twin of ops/adamw.cc: the bias corrections are computed once on the host in
// double; the kernel is a grid-stride elementwise update in float.
#include <cmath>

#include "check.cuh"
#include "kernels.h"

namespace repmlp::cuda {

// param, exp_avg, exp_avg_sq, grad: (n)
__global__ void adamw_step_kernel(float* param, float* exp_avg, float* exp_avg_sq, const float* grad, int64_t n,
                                  float decay, float b1, float one_b1, float b2, float one_b2, float step_size,
                                  float bc2_sqrt, float eps) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float g = grad[i];
    const float m = exp_avg[i] * b1 + one_b1 * g;
    const float v = exp_avg_sq[i] * b2 + one_b2 * (g * g);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = param[i] * decay - step_size * (m / (sqrtf(v) / bc2_sqrt + eps));
  }
}

void adamw_step(float* param, float* exp_avg, float* exp_avg_sq, const float* grad, int64_t n, double lr,
                double beta1, double beta2, double eps, double weight_decay, int64_t step) {
  if (n == 0) return;
  const double bc1 = 1.0 - std::pow(beta1, (double)step), bc2 = 1.0 - std::pow(beta2, (double)step);
  adamw_step_kernel<<<blocks_for(n), 256>>>(param, exp_avg, exp_avg_sq, grad, n, (float)(1.0 - lr * weight_decay),
                                            (float)beta1, (float)(1.0 - beta1), (float)beta2, (float)(1.0 - beta2),
                                            (float)(lr / bc1), (float)std::sqrt(bc2), (float)eps);
  REPMLP_CUDA_LAUNCHED("adamw_step");
}

}  // namespace repmlp::cuda

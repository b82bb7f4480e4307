// CUDA twin of ops/sgd.cc: grid-stride elementwise updates.
#include "check.cuh"
#include "kernels.h"

namespace repmlp::cuda {

// param, grad: (n)
__global__ void sgd_step_kernel(float* param, const float* grad, int64_t n, float lr, float weight_decay) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    param[i] -= lr * (grad[i] + weight_decay * param[i]);
}

// param, momentum_buffer, grad: (n)
__global__ void sgd_momentum_step_kernel(float* param, float* momentum_buffer, const float* grad, int64_t n, float lr,
                                         float momentum, float dampening, float weight_decay, bool nesterov,
                                         bool first) {
  const float take = 1.f - dampening;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float d = grad[i] + weight_decay * param[i];
    const float buf = first ? d : momentum_buffer[i] * momentum + take * d;
    momentum_buffer[i] = buf;
    param[i] -= lr * (nesterov ? d + momentum * buf : buf);
  }
}

void sgd_step(float* param, const float* grad, int64_t n, float lr, float weight_decay) {
  if (n == 0) return;
  sgd_step_kernel<<<blocks_for(n), 256>>>(param, grad, n, lr, weight_decay);
  REPMLP_CUDA_LAUNCHED("sgd_step");
}

void sgd_momentum_step(float* param, float* momentum_buffer, const float* grad, int64_t n, float lr, float momentum,
                       float dampening, float weight_decay, bool nesterov, bool first) {
  if (n == 0) return;
  sgd_momentum_step_kernel<<<blocks_for(n), 256>>>(param, momentum_buffer, grad, n, lr, momentum, dampening,
                                                   weight_decay, nesterov, first);
  REPMLP_CUDA_LAUNCHED("sgd_momentum_step");
}

}  // namespace repmlp::cuda

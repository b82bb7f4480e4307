// CUDA twin of ops/adamw.cc: the bias corrections are computed per tensor on the host in
// double; one launch updates up to kMultiTensors tensors (multi_tensor.cuh).
#include <cmath>

#include "../ops/adamw.h"
#include "multi_tensor.cuh"

namespace repmlp {
namespace cuda {

// tb.ptr: param, exp_avg, exp_avg_sq, grad, each (n[k]); tb.s0 = lr / (1 - b1^t), tb.s1 = sqrt(1 - b2^t)
__global__ void adamw_step_kernel(TensorBatch<4> tb, float decay, float b1, float one_b1, float b2, float one_b2,
                                  float eps) {
  int64_t begin, end;
  const int k = batch_slot(tb, begin, end);
  float *param = tb.ptr[0][k], *exp_avg = tb.ptr[1][k], *exp_avg_sq = tb.ptr[2][k];
  const float* grad = tb.ptr[3][k];
  const float step_size = tb.s0[k], bc2_sqrt = tb.s1[k];
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const float g = grad[i];
    const float m = exp_avg[i] * b1 + one_b1 * g;
    const float v = exp_avg_sq[i] * b2 + one_b2 * (g * g);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = param[i] * decay - step_size * (m / (sqrtf(v) / bc2_sqrt + eps));
  }
}

}  // namespace cuda

void cuda::adamw_step(const std::vector<float*>& params, const std::vector<float*>& exp_avgs,
                      const std::vector<float*>& exp_avg_sqs, const std::vector<const float*>& grads,
                      const std::vector<int64_t>& ns, const std::vector<int64_t>& steps, const AdamwHyper& hyper) {
  const double lr = hyper.lr, beta1 = hyper.beta1, beta2 = hyper.beta2, eps = hyper.eps, weight_decay = hyper.weight_decay;
  for_each_batch<4>(
      ns,
      [&](int slot, size_t k, TensorBatch<4>& tb) {
        tb.ptr[0][slot] = params[k];
        tb.ptr[1][slot] = exp_avgs[k];
        tb.ptr[2][slot] = exp_avg_sqs[k];
        tb.ptr[3][slot] = const_cast<float*>(grads[k]);  // read only
        const double t = static_cast<double>(steps[k]);
        tb.s0[slot] = static_cast<float>(lr / (1.0 - std::pow(beta1, t)));
        tb.s1[slot] = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t)));
      },
      [&](const TensorBatch<4>& tb, int blocks) {
        adamw_step_kernel<<<blocks, kMultiThreads>>>(tb, (float)(1.0 - lr * weight_decay), (float)beta1,
                                                     (float)(1.0 - beta1), (float)beta2, (float)(1.0 - beta2),
                                                     (float)eps);
        REPMLP_CUDA_LAUNCHED("adamw_step");
      });
}

}  // namespace repmlp

// CUDA twin of ops/sgd.cc: one launch updates up to kMultiTensors tensors (multi_tensor.cuh).
#include "../ops/sgd.h"
#include "multi_tensor.cuh"

namespace repmlp {
namespace cuda {

// tb.ptr: param, grad, each (n[k])
__global__ void sgd_step_kernel(TensorBatch<2> tb, float lr, float weight_decay) {
  int64_t begin, end;
  const int k = batch_slot(tb, begin, end);
  float* param = tb.ptr[0][k];
  const float* grad = tb.ptr[1][k];
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) param[i] -= lr * (grad[i] + weight_decay * param[i]);
}

// tb.ptr: param, momentum_buffer, grad, each (n[k]); tb.s0[k] = 1 on the tensor's first step
__global__ void sgd_momentum_step_kernel(TensorBatch<3> tb, float lr, float momentum, float dampening,
                                         float weight_decay, bool nesterov) {
  int64_t begin, end;
  const int k = batch_slot(tb, begin, end);
  float *param = tb.ptr[0][k], *momentum_buffer = tb.ptr[1][k];
  const float* grad = tb.ptr[2][k];
  const bool first = tb.s0[k] != 0.f;
  const float take = 1.f - dampening;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const float d = grad[i] + weight_decay * param[i];
    const float buf = first ? d : momentum_buffer[i] * momentum + take * d;
    momentum_buffer[i] = buf;
    param[i] -= lr * (nesterov ? d + momentum * buf : buf);
  }
}

}  // namespace cuda

void cuda::sgd_step(const std::vector<float*>& params, const std::vector<const float*>& grads, const std::vector<int64_t>& ns,
                    float lr, float weight_decay) {
  for_each_batch<2>(
      ns,
      [&](int slot, size_t k, TensorBatch<2>& tb) {
        tb.ptr[0][slot] = params[k];
        tb.ptr[1][slot] = const_cast<float*>(grads[k]);  // read only
      },
      [&](const TensorBatch<2>& tb, int blocks) {
        sgd_step_kernel<<<blocks, kMultiThreads>>>(tb, lr, weight_decay);
        REPMLP_CUDA_LAUNCHED("sgd_step");
      });
}

void cuda::sgd_momentum_step(const std::vector<float*>& params, const std::vector<float*>& momentum_buffers,
                             const std::vector<const float*>& grads, const std::vector<int64_t>& ns,
                             const std::vector<bool>& firsts, const SgdMomentumHyper& hyper) {
  const float lr = hyper.lr, momentum = hyper.momentum, dampening = hyper.dampening, weight_decay = hyper.weight_decay;
  const bool nesterov = hyper.nesterov;
  for_each_batch<3>(
      ns,
      [&](int slot, size_t k, TensorBatch<3>& tb) {
        tb.ptr[0][slot] = params[k];
        tb.ptr[1][slot] = momentum_buffers[k];
        tb.ptr[2][slot] = const_cast<float*>(grads[k]);  // read only
        tb.s0[slot] = firsts[k] ? 1.f : 0.f;
      },
      [&](const TensorBatch<3>& tb, int blocks) {
        sgd_momentum_step_kernel<<<blocks, kMultiThreads>>>(tb, lr, momentum, dampening, weight_decay, nesterov);
        REPMLP_CUDA_LAUNCHED("sgd_momentum_step");
      });
}

}  // namespace repmlp

// The batchnorm kernels, declared once for the CPU (ops/batchnorm.cc) and for CUDA (cuda/batchnorm.cu).
#pragma once
#include <cstdint>

#include "../common.h"

REPMLP_KERNELS(
  // act: the activation fused after the affine output; residual: null, or added to it
  void batchnorm_forward_train(float* out, float* mean_saved, float* invstd_saved, float* running_mean,
                               float* running_var, const float* inp, const float* residual, const float* weight,
                               const float* bias, int64_t N, int64_t C, int64_t HW, float momentum, float eps,
                               bool update_running, Act act);
  void batchnorm_forward_eval(float* out, const float* inp, const float* residual, const float* running_mean,
                              const float* running_var, const float* weight, const float* bias, int64_t N, int64_t C,
                              int64_t HW, float eps, Act act);
  void batchnorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* out,
                          const float* inp, const float* mean_saved, const float* invstd_saved, const float* weight,
                          const float* bias, int64_t N, int64_t C, int64_t HW, Act act);
  void batchnorm_backward_eval(float* dinp, float* dweight, float* dbias, const float* dout, const float* out,
                               const float* inp, const float* running_mean, const float* running_var,
                               const float* weight, const float* bias, int64_t N, int64_t C, int64_t HW, float eps,
                               Act act);
  void add_scalar_i64(int64_t* out, int64_t value, int64_t n);
)

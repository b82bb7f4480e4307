// The batchnorm kernels, declared once for the CPU (ops/batchnorm.cc) and for CUDA (cuda/batchnorm.cu).
// Each takes one struct of named fields (the binding fills it from a JS object with the same
// fields in camelCase). Activation-shaped tensors are (N, C, HW), per-channel ones (C).
#pragma once
#include <cstdint>

#include "../common.h"

namespace repmlp {

// Training forward: batch statistics, saved for backward; the running ones updated.
struct BatchnormTrain {
  float* out;
  float* mean_saved;    // the batch mean
  float* invstd_saved;  // 1 / sqrt(biased batch var + eps)
  float* running_mean;  // updated in place when update_running (else null)
  float* running_var;
  const float* inp;
  const float* residual;  // null, or added to the output (act must then be None)
  const float* weight;
  const float* bias;
  int64_t N, C, HW;
  float momentum, eps;
  bool update_running;
  Act act;  // fused after the affine output
  // Statistics over every rank of the distributed world (dist/comm.h): the per-channel sums
  // and the count are summed over the world before the mean and the variance are taken.
  bool sync;
  int64_t* count_out;  // host: the values per channel the statistics pooled (N * HW unless sync)
};

// Eval forward with the running statistics.
struct BatchnormEval {
  float* out;
  const float* inp;
  const float* residual;  // null, or added to the output
  const float* running_mean;
  const float* running_var;
  const float* weight;
  const float* bias;
  int64_t N, C, HW;
  float eps;
  Act act;
};

// Training backward through the batch statistics.
struct BatchnormBackward {
  float* dinp;
  float* dweight;
  float* dbias;
  const float* dout;
  const float* out;  // the forward output, for ReLU only (else null)
  const float* inp;
  const float* mean_saved;
  const float* invstd_saved;
  const float* weight;
  const float* bias;  // for GELU only (else null): t is recomputed from inp
  int64_t N, C, HW;
  Act act;
  // The forward's statistics were over the world (sync) and pooled count values per channel:
  // the sums of dy, dy * xhat and the centre's rounding are summed over the world before the
  // input gradient; dweight and dbias stay this rank's (a data-parallel wrapper averages them
  // with the other gradients).
  bool sync;
  int64_t count;
};

// Eval backward (statistics constant).
struct BatchnormBackwardEval {
  float* dinp;
  float* dweight;
  float* dbias;
  const float* dout;
  const float* out;  // ReLU only
  const float* inp;
  const float* running_mean;
  const float* running_var;
  const float* weight;
  const float* bias;  // GELU only
  int64_t N, C, HW;
  float eps;
  Act act;
};

// The values per channel a training forward's statistics pool: N * HW, or that summed over
// the world under sync (a collective). Throws unless there are at least two; fills count_out.
int64_t batchnorm_pooled_count(const BatchnormTrain& p);

}  // namespace repmlp

REPMLP_KERNELS(
  void batchnorm_forward_train(const BatchnormTrain& p);
  void batchnorm_forward_eval(const BatchnormEval& p);
  void batchnorm_backward(const BatchnormBackward& p);
  void batchnorm_backward_eval(const BatchnormBackwardEval& p);
  // out: (n) int64, out[i] += value
  void add_scalar_i64(int64_t* out, int64_t value, int64_t n);
)

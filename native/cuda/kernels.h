// The CUDA twins of the CPU kernels in ops/, with the same arguments and semantics.
// Pointers are device pointers; launches go to the one stream; errors throw repmlp::Error.
#pragma once
#include <cstdint>
#include <vector>

#include "../common.h"

namespace repmlp::cuda {

// conv2d.cc
void conv2d_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t N, int64_t Cin,
                    int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw, int64_t strideH, int64_t strideW,
                    int64_t padH, int64_t padW, int64_t groups);
void conv2d_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                     int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                     int64_t strideH, int64_t strideW, int64_t padH, int64_t padW, int64_t groups);
// batchnorm.cc (act: the activation fused after the affine output; residual: null, or added to it)
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

// copy.cc
void strided_copy_f32(float* out, const float* inp, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides);
void strided_copy_i64(int64_t* out, const int64_t* inp, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides);
void fill_f32(float* out, float value, int64_t n);
void fill_i64(int64_t* out, int64_t value, int64_t n);

// bias_grad.cc
void bias_grad(float* dbias, const float* dout, int64_t N, int64_t C, int64_t HW);

// gemm.cu
void gemm_strided_batched(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, int64_t batch, bool transA, bool transB, float alpha, float beta, int64_t ldc, int64_t strideC, int64_t lda, int64_t strideA, int64_t ldb, int64_t strideB);

// relu.cc
void relu_forward(float* out, const float* inp, int64_t n);
void relu_backward(float* dinp, const float* dout, const float* out, int64_t n);

// scale.cc
void axpy(float* out, const float* x, float alpha, int64_t n);
void scale(float* out, const float* x, float alpha, float beta, int64_t n);

// gelu.cc
void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n);

// unpartition_gate.cc (residual: null, or added to the output)
void unpartition_gate_forward(float* out, const float* y, const float* gate, const float* residual, int64_t N,
                              int64_t C, int64_t Hp, int64_t h, int64_t Wp, int64_t w);
void unpartition_gate_backward(float* dy, float* dgate, const float* dout, const float* y, const float* gate,
                               int64_t N, int64_t C, int64_t Hp, int64_t h, int64_t Wp, int64_t w);

// sigmoid.cc
void sigmoid_forward(float* out, const float* inp, int64_t n);
void sigmoid_backward(float* dinp, const float* dout, const float* out, int64_t n);

// binary.cc (op: a BinaryOp value from ops/broadcast.h: 0 add, 1 sub, 2 mul)
void binary_forward(float* out, const float* a, const float* b, int op, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& a_strides, const std::vector<int64_t>& b_strides);

// reduce.cc
void sum_to(float* out, const float* inp, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape);
// cross_entropy.cc (*bad_row: the first row whose class index is outside [0, K), else -1)
void cross_entropy_forward(float* loss, float* losses, float* stats, const float* logits, const int64_t* target,
                           int64_t N, int64_t K, float eps, int64_t* bad_row);
void cross_entropy_backward(float* dlogits, const float* dloss, const float* stats, const float* logits,
                            const int64_t* target, int64_t N, int64_t K, float eps);
void cross_entropy_soft_forward(float* loss, float* losses, float* stats, const float* logits, const float* target,
                                int64_t N, int64_t K, float eps);
void cross_entropy_soft_backward(float* dlogits, const float* dloss, const float* stats, const float* logits,
                                 const float* target, int64_t N, int64_t K, float eps);

// correct_count.cc: out (1) = rows of logits (N, K) whose argmax is the label
void correct_count(float* out, const float* logits, const int64_t* labels, int64_t N, int64_t K);

// adamw.cc (multi-tensor: element k of each list has ns[k] elements)
void adamw_step(const std::vector<float*>& params, const std::vector<float*>& exp_avgs,
                const std::vector<float*>& exp_avg_sqs, const std::vector<const float*>& grads,
                const std::vector<int64_t>& ns, const std::vector<int64_t>& steps, double lr, double beta1,
                double beta2, double eps, double weight_decay);

// sgd.cc (multi-tensor)
void sgd_step(const std::vector<float*>& params, const std::vector<const float*>& grads, const std::vector<int64_t>& ns,
              float lr, float weight_decay);
void sgd_momentum_step(const std::vector<float*>& params, const std::vector<float*>& momentum_buffers,
                       const std::vector<const float*>& grads, const std::vector<int64_t>& ns,
                       const std::vector<bool>& firsts, float lr, float momentum, float dampening, float weight_decay,
                       bool nesterov);

}  // namespace repmlp::cuda

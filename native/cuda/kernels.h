// The CUDA twins of the CPU kernels in ops/, with the same arguments and semantics.
// Pointers are device pointers; launches go to the one stream; errors throw repmlp::Error.
#pragma once
#include <cstdint>
#include <vector>

namespace repmlp::cuda {

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

}  // namespace repmlp::cuda

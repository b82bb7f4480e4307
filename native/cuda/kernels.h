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

// relu.cc
void relu_forward(float* out, const float* inp, int64_t n);
void relu_backward(float* dinp, const float* dout, const float* out, int64_t n);

// scale.cc
void axpy(float* out, const float* x, float alpha, int64_t n);
void scale(float* out, const float* x, float alpha, float beta, int64_t n);

// gelu.cc
void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n);

// sigmoid.cc
void sigmoid_forward(float* out, const float* inp, int64_t n);
void sigmoid_backward(float* dinp, const float* dout, const float* out, int64_t n);

// binary.cc (op: a BinaryOp value from ops/broadcast.h: 0 add, 1 sub, 2 mul)
void binary_forward(float* out, const float* a, const float* b, int op, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& a_strides, const std::vector<int64_t>& b_strides);

// reduce.cc
void sum_to(float* out, const float* inp, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape);

}  // namespace repmlp::cuda

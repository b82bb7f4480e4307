// One register_<op> per file in ops/: each adds that op's forward and backward bindings.
#pragma once
#include <napi.h>

namespace repmlp {
void register_conv2d(Napi::Object exports);
void register_batchnorm(Napi::Object exports);
void register_binary(Napi::Object exports);
void register_copy(Napi::Object exports);
void register_reduce(Napi::Object exports);
void register_bias_grad(Napi::Object exports);
void register_memory(Napi::Object exports);  // memory.cc: allocator stats, poisoning, copy_storage
void register_gemm(Napi::Object exports);
void register_info(Napi::Object exports);  // info.cc: cudaInfo, setTf32
void register_unary(Napi::Object exports);  // unary.cc: every activation of unary.h
void register_scale(Napi::Object exports);
void register_unpartition_gate(Napi::Object exports);
void register_maxpool(Napi::Object exports);
void register_cross_entropy(Napi::Object exports);
void register_correct_count(Napi::Object exports);
void register_adamw(Napi::Object exports);
void register_sgd(Napi::Object exports);
void register_infer(Napi::Object exports);  // infer.cc: inference programs over the kernels above
void register_dist(Napi::Object exports);  // dist/bindings.cc: the distributed world and its collectives
}  // namespace repmlp

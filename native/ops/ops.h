// One register_<op> per file in ops/: each adds that op's forward and backward bindings.
#pragma once
#include <napi.h>

namespace repmlp {
void register_bias_grad(Napi::Object exports);
void register_copy(Napi::Object exports);
void register_gemm(Napi::Object exports);
void register_relu(Napi::Object exports);
void register_scale(Napi::Object exports);
}  // namespace repmlp

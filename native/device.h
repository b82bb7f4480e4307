// Memory primitives per device. The CUDA side is implemented in cuda/runtime.cu when the
// addon is built with CUDA, and by no_cuda.cc (which reports why CUDA is absent) otherwise.
#pragma once
#include <cstddef>
#include <string>

#include "common.h"

namespace repmlp {

void* device_alloc(Device d, size_t bytes);
void device_free(Device d, void* p, size_t bytes);  // bytes: as allocated
// Copies between host memory and storage memory on `d` (host<->host when d is CPU).
void copy_to_host(Device d, void* host_dst, const void* src, size_t bytes);
void copy_from_host(Device d, void* dst, const void* host_src, size_t bytes);

namespace cuda {
bool compiled();                   // was the addon built with CUDA sources?
int device_count(std::string* why);  // 0 with a reason when no usable device
void* malloc(size_t bytes);
void free(void* p);
void memcpy_d2h(void* dst, const void* src, size_t bytes);
void memcpy_h2d(void* dst, const void* src, size_t bytes);
void memset_zero(void* p, size_t bytes);
}  // namespace cuda

}  // namespace repmlp

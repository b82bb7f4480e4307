// The CUDA half of device.h for builds without CUDA (no nvcc, or REPMLP_CUDA=OFF).
#include "device.h"

namespace repmlp::cuda {

static const char* kWhy = "this build of repmlp has no CUDA support (built without nvcc or with REPMLP_CUDA=OFF)";

bool compiled() { return false; }
int device_count(std::string* why) {
  if (why) *why = kWhy;
  return 0;
}
void set_device(int) { throw Error(kWhy); }
void* malloc(size_t) { throw Error(kWhy); }
void free(void*) {}
MemStats memory_stats() { return {}; }
void reset_peak() {}
void empty_cache() {}
void memcpy_d2h(void*, const void*, size_t) { throw Error(kWhy); }
void memcpy_h2d(void*, const void*, size_t) { throw Error(kWhy); }
void memcpy_d2d(void*, const void*, size_t) { throw Error(kWhy); }
void memset_bytes(void*, int, size_t) { throw Error(kWhy); }
void synchronize() { throw Error(kWhy); }

}  // namespace repmlp::cuda

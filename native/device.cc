#include "device.h"

#include "host_cache.h"

#include <cstdlib>
#include <cstring>

namespace repmlp {

void* device_alloc(Device d, size_t bytes) {
  if (d == Device::CUDA) return cuda::malloc(bytes);
  return host_cache::alloc(bytes);  // 64-byte aligned, cached
}

void device_free(Device d, void* p, size_t bytes) {
  if (!p) return;
  if (d == Device::CUDA) cuda::free(p);
  else host_cache::release(p, bytes);
}

void copy_to_host(Device d, void* host_dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (d == Device::CUDA) cuda::memcpy_d2h(host_dst, src, bytes);
  else std::memcpy(host_dst, src, bytes);
}

void copy_from_host(Device d, void* dst, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  if (d == Device::CUDA) cuda::memcpy_h2d(dst, host_src, bytes);
  else std::memcpy(dst, host_src, bytes);
}

}  // namespace repmlp

#include "device.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace repmlp {

void* device_alloc(Device d, size_t bytes) {
  if (d == Device::CUDA) return cuda::malloc(bytes);
  // 64-byte alignment keeps vector loads aligned in the CPU kernels.
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  if (!p) throw Error("out of host memory: could not allocate " + std::to_string(bytes) + " bytes");
  return p;
}

void device_free(Device d, void* p) {
  if (!p) return;
  if (d == Device::CUDA) cuda::free(p);
  else std::free(p);
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

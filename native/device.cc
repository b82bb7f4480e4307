#include "device.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "env.h"
#include "host_cache.h"

namespace repmlp {

static std::atomic<bool>& poison_flag() {
  static std::atomic<bool> on{env::flag("REPMLP_POISON", false)};
  return on;
}

void set_poison(bool on) { poison_flag().store(on); }
bool poison_enabled() { return poison_flag().load(); }

void* device_alloc(Device d, size_t bytes) {
  if (d == Device::CUDA) {
    void* p = cuda::malloc(bytes);
    if (poison_enabled() && bytes) {
      try {
        cuda::memset_bytes(p, 0xFF, bytes);
      } catch (...) {
        cuda::free(p);
        throw;
      }
    }
    return p;
  }
  void* p = host_cache::alloc(bytes);  // 64-byte aligned, cached
  if (poison_enabled() && bytes) std::memset(p, 0xFF, bytes);
  return p;
}

void device_free(Device d, void* p, size_t bytes) {
  if (!p) return;
  if (d == Device::CUDA) cuda::free(p);
  else host_cache::release(p, bytes);
}

void copy_to_host(Device d, void* host_dst, const void* src, size_t bytes) {
  copy_between(Device::CPU, host_dst, d, src, bytes);
}

void copy_from_host(Device d, void* dst, const void* host_src, size_t bytes) {
  copy_between(d, dst, Device::CPU, host_src, bytes);
}

void copy_between(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::CPU && src_dev == Device::CPU) std::memcpy(dst, src, bytes);
  else if (dst_dev == Device::CPU) cuda::memcpy_d2h(dst, src, bytes);
  else if (src_dev == Device::CPU) cuda::memcpy_h2d(dst, src, bytes);
  else cuda::memcpy_d2d(dst, src, bytes);
}

MemStats memory_stats(Device d) { return d == Device::CUDA ? cuda::memory_stats() : host_cache::stats(); }

void reset_peak_memory_stats(Device d) {
  if (d == Device::CUDA) cuda::reset_peak();
  else host_cache::reset_peak();
}

void empty_cache(Device d) {
  if (d == Device::CUDA) cuda::empty_cache();
  else host_cache::empty();
}

}  // namespace repmlp

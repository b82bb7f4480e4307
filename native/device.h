// Memory primitives per device. The CUDA side is implemented in cuda/runtime.cu and
// cuda/allocator.cu when the addon is built with CUDA, and by no_cuda.cc (which reports why
// CUDA is absent) otherwise. Both devices allocate through caching allocators
// (host_cache.h, cuda/allocator.cu) that keep statistics.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "common.h"

namespace repmlp {

// Bytes are counted in the allocator's rounded block sizes.
struct MemStats {
  int64_t allocated = 0;       // in blocks handed out
  int64_t reserved = 0;        // allocated + kept in the cache
  int64_t peak_allocated = 0;  // since start or the last reset_peak_memory_stats
  int64_t peak_reserved = 0;
  int64_t blocks = 0;          // blocks handed out now
  int64_t system_allocs = 0;   // calls to the system allocator (malloc / cudaMalloc) so far
  int64_t cache_hits = 0;      // allocations served from the cache so far
};

void* device_alloc(Device d, size_t bytes);
void device_free(Device d, void* p, size_t bytes);  // bytes: as allocated
// Copies between host memory and storage memory on `d` (host<->host when d is CPU).
void copy_to_host(Device d, void* host_dst, const void* src, size_t bytes);
void copy_from_host(Device d, void* dst, const void* host_src, size_t bytes);
// Copies storage memory between any two devices (cpu->cuda, cuda->cpu, cuda->cuda, cpu->cpu).
void copy_between(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes);

MemStats memory_stats(Device d);
void reset_peak_memory_stats(Device d);
void empty_cache(Device d);  // returns cached, unused blocks to the system

// Poisoning: while on, every new allocation is filled with 0xFF bytes (NaN as float32 and
// float64, -1 as int64), so a kernel that leaves part of its output unwritten shows it.
// Off by default; REPMLP_POISON=1 turns it on at load. Tests turn it on.
void set_poison(bool on);
bool poison_enabled();

namespace cuda {
bool compiled();                   // was the addon built with CUDA sources?
int device_count(std::string* why);  // 0 with a reason when no usable device
// Makes device d current for this thread (a distributed rank's device); throws repmlp::Error.
void set_device(int d);
// The caching device allocator (cuda/allocator.cu). malloc throws a repmlp::Error naming the
// size asked for and the memory free when the device is out of memory.
void* malloc(size_t bytes);
void free(void* p);
MemStats memory_stats();
void reset_peak();
void empty_cache();
void memcpy_d2h(void* dst, const void* src, size_t bytes);
void memcpy_h2d(void* dst, const void* src, size_t bytes);
void memcpy_d2d(void* dst, const void* src, size_t bytes);
void memset_bytes(void* p, int value, size_t bytes);
void synchronize();  // waits for every kernel launched so far
}  // namespace cuda

}  // namespace repmlp

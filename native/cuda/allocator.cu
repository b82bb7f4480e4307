// The caching device allocator. cudaMalloc and cudaFree synchronise the device and cost
// tens of microseconds, and a training step allocates the same sizes every time, so freed
// blocks are kept and handed out again instead of being returned to the driver.
//
// - One stream (the legacy default stream) runs every kernel and copy, so a block freed by
//   the host may be reused at once: any kernel that still reads it was queued earlier on the
//   same stream and finishes before the next user's kernels start.
// - Sizes are rounded up to 512 bytes below 1 MiB and to 2 MiB above. A request takes the
//   smallest cached block that fits; a large request accepts a block up to 1/8 larger (plus
//   one rounding step), a small one only its exact rounded size. Blocks are never split.
// - When cudaMalloc fails, the cache is emptied and the allocation tried once more; if that
//   fails too, a repmlp::Error says how much was asked, how much is free and what the cache
//   holds. cudaErrorMemoryAllocation is not sticky, so the process goes on working.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

#include "../device.h"
#include "check.cuh"

namespace repmlp::cuda {
namespace {

constexpr size_t kSmall = size_t{1} << 20;  // 1 MiB
constexpr size_t kSmallQuantum = 512;
constexpr size_t kLargeQuantum = size_t{2} << 20;  // 2 MiB

size_t rounded(size_t bytes) {
  const size_t q = bytes < kSmall ? kSmallQuantum : kLargeQuantum;
  return (std::max<size_t>(bytes, 1) + q - 1) / q * q;
}

// The largest cached block a request of rounded size r may take.
size_t fit_limit(size_t r) { return r < kSmall ? r : r + r / 8 + kLargeQuantum; }

std::string mib(int64_t bytes) {
  const double m = static_cast<double>(bytes) / (1 << 20);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", m);
  return buf;
}

struct Allocator {
  std::mutex m;
  std::multimap<size_t, void*> cached;     // block size -> free block
  std::unordered_map<void*, size_t> live;  // handed-out block -> its size
  int64_t cached_bytes = 0;
  MemStats st;  // reserved is derived: allocated + cached_bytes

  void handed_out(void* p, size_t size, bool hit) {
    live.emplace(p, size);
    st.allocated += static_cast<int64_t>(size);
    st.blocks++;
    (hit ? st.cache_hits : st.system_allocs)++;
    st.peak_allocated = std::max(st.peak_allocated, st.allocated);
    st.peak_reserved = std::max(st.peak_reserved, st.allocated + cached_bytes);
  }

  // Returns every cached block to the driver (cudaFree waits for the device).
  void empty_locked() {
    for (auto& kv : cached) cudaFree(kv.second);
    cached.clear();
    cached_bytes = 0;
    cudaGetLastError();
  }
};

Allocator& allocator() {
  static Allocator* a = new Allocator();  // never destroyed: storages may be freed during exit
  return *a;
}

}  // namespace

void* malloc(size_t bytes) {
  const size_t r = rounded(bytes);
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.m);
  auto it = a.cached.lower_bound(r);
  if (it != a.cached.end() && it->first <= fit_limit(r)) {
    void* p = it->second;
    const size_t size = it->first;
    a.cached.erase(it);
    a.cached_bytes -= static_cast<int64_t>(size);
    a.handed_out(p, size, true);
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, r);
  if (e == cudaErrorMemoryAllocation && a.cached_bytes > 0) {
    cudaGetLastError();
    a.empty_locked();
    e = cudaMalloc(&p, r);
  }
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    cudaGetLastError();
    throw Error("CUDA out of memory: tried to allocate " + mib(static_cast<int64_t>(bytes)) + " with " +
                mib(static_cast<int64_t>(free_b)) + " free of " + mib(static_cast<int64_t>(total_b)) + " (repmlp holds " +
                mib(a.st.allocated) + " in tensors; its cache was emptied). Free tensors (dispose, scope) or use a "
                "smaller batch.");
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(std::string("cannot allocate on cuda: ") + cudaGetErrorString(e) +
                " (run `repmlp info` to see whether a CUDA device is usable)");
  }
  a.handed_out(p, r, false);
  return p;
}

void free(void* p) {
  if (!p) return;
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.m);
  auto it = a.live.find(p);
  if (it == a.live.end()) return;  // not ours: never happens for storages and scratch
  const size_t size = it->second;
  a.live.erase(it);
  a.st.allocated -= static_cast<int64_t>(size);
  a.st.blocks--;
  // Never throws: when the cache's map cannot grow (host out of memory), the block goes back
  // to the device instead.
  try {
    a.cached.emplace(size, p);
  } catch (const std::bad_alloc&) {
    cudaFree(p);
    return;
  }
  a.cached_bytes += static_cast<int64_t>(size);
}

MemStats memory_stats() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.m);
  MemStats s = a.st;
  s.reserved = s.allocated + a.cached_bytes;
  return s;
}

void reset_peak() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.m);
  a.st.peak_allocated = a.st.allocated;
  a.st.peak_reserved = a.st.allocated + a.cached_bytes;
}

void empty_cache() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.m);
  a.empty_locked();
}

}  // namespace repmlp::cuda

#include "host_cache.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "env.h"

namespace repmlp::host_cache {
namespace {

struct Cache {
  std::mutex m;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // rounded size -> blocks
  size_t cached = 0;
  size_t limit = default_limit();
  MemStats st;  // reserved is derived: allocated + cached

  void on_handed_out(size_t r, bool hit) {
    st.allocated += static_cast<int64_t>(r);
    st.blocks++;
    (hit ? st.cache_hits : st.system_allocs)++;
    if (st.allocated > st.peak_allocated) st.peak_allocated = st.allocated;
    const int64_t reserved = st.allocated + static_cast<int64_t>(cached);
    if (reserved > st.peak_reserved) st.peak_reserved = reserved;
  }

  // REPMLP_CPU_CACHE_MB, 2048 when unset (a bad value is an Error).
  static size_t default_limit() {
    return static_cast<size_t>(env::integer("REPMLP_CPU_CACHE_MB", 0, env::kMaxCacheMb, 2048, "a number of megabytes")) << 20;
  }

  void empty_locked() {
    for (auto& kv : free_blocks)
      for (void* p : kv.second) std::free(p);
    free_blocks.clear();
    cached = 0;
  }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: storages may be freed during exit
  return *c;
}

// Sizes are rounded to 64 bytes below 64 KiB and to 4 KiB above, so recurring shapes hit.
size_t rounded(size_t bytes) {
  const size_t q = bytes < (size_t{64} << 10) ? 64 : 4096;
  return (bytes + q - 1) / q * q;
}

}  // namespace

void* alloc(size_t bytes) {
  const size_t r = rounded(bytes == 0 ? 1 : bytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.m);
    auto it = c.free_blocks.find(r);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached -= r;
      c.on_handed_out(r, true);
      return p;
    }
  }
  void* p = std::aligned_alloc(64, r);
  if (!p) {
    empty();
    p = std::aligned_alloc(64, r);
  }
  if (!p) throw Error("out of host memory: could not allocate " + std::to_string(bytes) + " bytes");
  std::lock_guard<std::mutex> lock(c.m);
  c.on_handed_out(r, false);
  return p;
}

void release(void* p, size_t bytes) noexcept {
  if (!p) return;
  const size_t r = rounded(bytes == 0 ? 1 : bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  c.st.allocated -= static_cast<int64_t>(r);
  c.st.blocks--;
  if (r > c.limit) {
    std::free(p);
    return;
  }
  if (c.cached + r > c.limit) c.empty_locked();
  // Never throws: when the cache cannot grow its lists (out of memory), the block goes back
  // to the system instead.
  try {
    c.free_blocks[r].push_back(p);
  } catch (const std::bad_alloc&) {
    std::free(p);
    return;
  }
  c.cached += r;
}

void empty() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  c.empty_locked();
}

int64_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  return static_cast<int64_t>(c.cached);
}

MemStats stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  MemStats s = c.st;
  s.reserved = s.allocated + static_cast<int64_t>(c.cached);
  return s;
}

void reset_peak() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  c.st.peak_allocated = c.st.allocated;
  c.st.peak_reserved = c.st.allocated + static_cast<int64_t>(c.cached);
}

}  // namespace repmlp::host_cache

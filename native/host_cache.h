// A caching allocator for host (CPU) tensor memory. A training step frees and allocates the
// same sizes over and over; glibc's allocator then fragments (aligned blocks of one size do
// not fit the holes their predecessors left) and the process grows by every step's
// intermediates. Freed blocks are instead kept per rounded size and handed out again; the
// cache is emptied when it holds more than REPMLP_CPU_CACHE_MB (default 2048) megabytes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "device.h"

namespace repmlp::host_cache {

void* alloc(size_t bytes);        // 64-byte aligned; throws repmlp::Error when out of memory
void release(void* p, size_t bytes) noexcept;  // bytes: as passed to alloc
void empty();                     // frees every cached block
int64_t cached_bytes();
MemStats stats();                 // allocated = blocks handed out, reserved = + cached
void reset_peak();

}  // namespace repmlp::host_cache

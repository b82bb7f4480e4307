// The emulator's device memory. Each allocation is mapped on its own between two PROT_NONE
// pages, against the one after it (or, with CUDA_EMU_GUARD=before, the one before it), so a
// kernel that reads or writes past that end faults at once (and launch.cc's handler names the
// launch). The new mapping is filled with 0xFF bytes (NaN floats), as cudaMalloc's memory is
// undefined, so an access just past the other end reads poison before it reaches a guard.
// Copies check that each pointer is on the side their direction says, with the whole range
// inside one allocation.
#include <sys/mman.h>

#include <cstring>

#include "internal.h"

namespace cuda_emu {
namespace {

// CUDA_EMU_GUARD: "after" (the default) or "before", the end of each allocation that touches
// a guard page.
const bool g_guard_before = env_switch("CUDA_EMU_GUARD", "after", "before");

}  // namespace

Memory& memory() {
  static Memory* m = new Memory();  // never destroyed: storages may be freed during exit
  return *m;
}

bool is_device(const void* p, size_t bytes) {
  Memory& mem = memory();
  std::lock_guard<std::mutex> lock(mem.m);
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = mem.live.upper_bound(a);
  if (it == mem.live.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second.bytes;
}

// The bytes of a __device__ variable, a host global here.
cudaError_t symbol_copy(void* dst, const void* src, size_t bytes) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

}  // namespace cuda_emu

using cuda_emu::fail;

cudaError_t cudaMalloc(void** p, size_t bytes) {
  using namespace cuda_emu;
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  Memory& mem = memory();
  const size_t rounded = round_up(bytes, kAlign);
  {
    std::lock_guard<std::mutex> lock(mem.m);
    if (mem.used + rounded > mem.limit) return fail(cudaErrorMemoryAllocation);
    mem.used += rounded;
  }
  // [guard page][usable pages][guard page], the allocation at one end of the usable pages.
  const size_t usable = round_up(rounded, page()), length = usable + 2 * page();
  void* m = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    std::lock_guard<std::mutex> lock(mem.m);
    mem.used -= rounded;
    return fail(cudaErrorMemoryAllocation);
  }
  char* base = static_cast<char*>(m);
  mprotect(base, page(), PROT_NONE);
  mprotect(base + page() + usable, page(), PROT_NONE);
  std::memset(base + page(), 0xFF, usable);
  char* user = g_guard_before ? base + page() : base + page() + usable - rounded;
  std::lock_guard<std::mutex> lock(mem.m);
  mem.live.emplace(reinterpret_cast<uintptr_t>(user), Mapping{base, length, rounded});
  *p = user;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  using namespace cuda_emu;
  if (!p) return cudaSuccess;
  Memory& mem = memory();
  Mapping m{};
  {
    std::lock_guard<std::mutex> lock(mem.m);
    auto it = mem.live.find(reinterpret_cast<uintptr_t>(p));
    if (it == mem.live.end()) return fail(cudaErrorInvalidDevicePointer, "cudaFree of a pointer cudaMalloc did not return");
    m = it->second;
    mem.used -= m.bytes;
    mem.live.erase(it);
  }
  munmap(m.base, m.length);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  cuda_emu::Memory& mem = cuda_emu::memory();
  std::lock_guard<std::mutex> lock(mem.m);
  *free_bytes = mem.limit - mem.used;
  *total_bytes = mem.limit;
  return cudaSuccess;
}

// Copies check that each side is where `kind` says it is: a device pointer must lie, with the
// whole range, inside one allocation; a host pointer must not be a device one.
static cudaError_t checked_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* api) {
  using cuda_emu::is_device;
  if (bytes == 0) return cudaSuccess;
  if (kind == cudaMemcpyDefault)
    kind = is_device(src, 1) ? (is_device(dst, 1) ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
                             : (is_device(dst, 1) ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
  const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDeviceToDevice) return fail(cudaErrorInvalidMemcpyDirection);
  if (dst_dev != is_device(dst, bytes) || src_dev != is_device(src, bytes))
    return fail(cudaErrorInvalidValue, std::string(api) + ": a pointer is not where the copy's direction says, or the " +
                                           std::to_string(bytes) + " bytes run past its allocation");
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return checked_copy(dst, src, bytes, kind, "cudaMemcpy");
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return checked_copy(dst, src, bytes, kind, "cudaMemcpyAsync");
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) {
  if (bytes == 0) return cudaSuccess;
  if (!cuda_emu::is_device(p, bytes))
    return fail(cudaErrorInvalidValue, "cudaMemsetAsync: the range is not inside one device allocation");
  std::memset(p, value, bytes);
  return cudaSuccess;
}

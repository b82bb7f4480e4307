// What the emulator's runtime files share: the last error of each host thread, and device
// memory (see memory.cc).
#pragma once
#include <cuda_runtime.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace cuda_emu {

// The last error of this host thread, with a detail for launch failures (api.cc).
extern thread_local cudaError_t g_last;
extern thread_local std::string g_detail;
cudaError_t fail(cudaError_t e, const std::string& detail = "");

// A two-valued environment switch (api.cc): false for `first` (also when unset or empty), true
// for `second`; any other value stops the process with a message naming both.
bool env_switch(const char* name, const char* first, const char* second);

constexpr size_t kAlign = 256;  // cudaMalloc's alignment

struct Mapping {
  char* base;
  size_t length, bytes;
};

struct Memory {
  std::mutex m;
  std::map<uintptr_t, Mapping> live;  // user pointer -> its mapping
  size_t used = 0;
  size_t limit = [] {
    const char* v = std::getenv("CUDA_EMU_MEMORY_MIB");
    const size_t mib = v && *v ? std::strtoull(v, nullptr, 10) : 4096;
    return mib << 20;
  }();
};

Memory& memory();

// True when [p, p + bytes) lies inside one device allocation.
bool is_device(const void* p, size_t bytes);

inline size_t page() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

inline size_t round_up(size_t n, size_t q) { return (n + q - 1) / q * q; }

}  // namespace cuda_emu

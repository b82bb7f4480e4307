// The emulator's runtime API outside memory and launches: one device of compute capability
// 9.0, versions, errors and (on one always-synchronous stream) synchronisation.
#include <cstdio>
#include <cstring>

#include "internal.h"

namespace cuda_emu {

thread_local cudaError_t g_last = cudaSuccess;
thread_local std::string g_detail;

cudaError_t fail(cudaError_t e, const std::string& detail) {
  g_last = e;
  g_detail = detail;
  return e;
}

bool env_switch(const char* name, const char* first, const char* second) {
  const char* v = std::getenv(name);
  if (!v || !*v || std::strcmp(v, first) == 0) return false;
  if (std::strcmp(v, second) == 0) return true;
  std::fprintf(stderr, "cuda emulator: %s is '%s'; it takes %s or %s\n", name, v, first, second);
  std::abort();
}

}  // namespace cuda_emu

using cuda_emu::fail;

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "repmlp CUDA emulator (CPU)");
  prop->totalGlobalMem = cuda_emu::memory().limit;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  prop->maxThreadsPerBlock = 1024;
  prop->warpSize = 32;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}
cudaError_t cudaGetLastError() {
  const cudaError_t e = cuda_emu::g_last;
  cuda_emu::g_last = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return cuda_emu::g_last; }

const char* cudaGetErrorString(cudaError_t e) {
  const char* base = "unrecognized error code";
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: base = "invalid argument"; break;
    case cudaErrorMemoryAllocation: base = "out of memory"; break;
    case cudaErrorInvalidConfiguration: base = "invalid configuration argument"; break;
    case cudaErrorInvalidSymbol: base = "invalid device symbol"; break;
    case cudaErrorInvalidDevicePointer: base = "invalid device pointer"; break;
    case cudaErrorInvalidMemcpyDirection: base = "invalid copy direction for memcpy"; break;
    case cudaErrorInsufficientDriver: base = "CUDA driver version is insufficient for CUDA runtime version"; break;
    case cudaErrorNoDevice: base = "no CUDA-capable device is detected"; break;
    case cudaErrorInvalidDevice: base = "invalid device ordinal"; break;
    case cudaErrorNotReady: base = "device not ready"; break;
    case cudaErrorLaunchFailure: base = "unspecified launch failure"; break;
  }
  // The detail of the last failure of this kind on this thread, as a debugger would show.
  thread_local std::string s;
  s = base;
  if (!cuda_emu::g_detail.empty()) s += " (emulator: " + cuda_emu::g_detail + ")";
  return s.c_str();
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamQuery(cudaStream_t) { return cudaSuccess; }

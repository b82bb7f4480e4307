// Runtime information about the CUDA backend: cudaInfo() and setTf32(on).
//
// cudaInfo() -> { compiled, reason, devices: [{ index, name, computeCapability, totalMemory }],
//                 driverVersion, runtimeVersion, cublas: { found, path, version, tried, tf32 } }
// reason is null when at least one device is usable, else why not (no CUDA in this build, or
// the error of cudaGetDeviceCount). Versions are "major.minor" strings or null. Looking at
// cuBLAS needs no GPU: it only opens the library (see cuda/cublas.h).
#include <napi.h>

#include "args.h"
#include "common.h"
#include "device.h"
#include "ops/ops.h"
#ifdef REPMLP_WITH_CUDA
#include <cuda_runtime_api.h>

#include "cuda/cublas.h"
#endif

namespace repmlp {

#ifdef REPMLP_WITH_CUDA
// 13000 -> "13.0"; null when the value is 0 (no driver).
static Napi::Value cuda_version(Napi::Env env, int v) {
  if (v <= 0) return env.Null();
  return Napi::String::New(env, std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10));
}

static Napi::Value cublas_info(Napi::Env env) {
  const cuda::CublasStatus st = cuda::cublas_status();
  auto o = Napi::Object::New(env);
  o.Set("found", st.found);
  o.Set("path", st.found ? Napi::Value(Napi::String::New(env, st.path)) : env.Null());
  o.Set("version", st.version.empty() ? env.Null() : Napi::Value(Napi::String::New(env, st.version)));
  auto tried = Napi::Array::New(env, st.tried.size());
  for (size_t i = 0; i < st.tried.size(); ++i) {
    auto t = Napi::Object::New(env);
    t.Set("path", st.tried[i].path);
    t.Set("error", st.tried[i].error);
    tried.Set(static_cast<uint32_t>(i), t);
  }
  o.Set("tried", tried);
  o.Set("tf32", st.tf32);
  return o;
}
#endif

static Napi::Value cuda_info(const Napi::CallbackInfo& info) {
  Args a(info, "cudaInfo", 0);
  auto env = info.Env();
  auto o = Napi::Object::New(env);
  auto devices = Napi::Array::New(env);
  o.Set("compiled", cuda::compiled());
#ifdef REPMLP_WITH_CUDA
  std::string why;
  const int n = cuda::device_count(&why);
  o.Set("reason", n > 0 ? env.Null() : Napi::Value(Napi::String::New(env, why)));
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    auto d = Napi::Object::New(env);
    d.Set("index", i);
    if (cudaGetDeviceProperties(&p, i) == cudaSuccess) {
      d.Set("name", std::string(p.name));
      d.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
      d.Set("totalMemory", static_cast<double>(p.totalGlobalMem));
    } else {
      cudaGetLastError();
      d.Set("name", env.Null());
      d.Set("computeCapability", env.Null());
      d.Set("totalMemory", env.Null());
    }
    devices.Set(static_cast<uint32_t>(i), d);
  }
  int driver = 0, runtime = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
  if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) runtime = 0;
  cudaGetLastError();
  o.Set("devices", devices);
  o.Set("driverVersion", cuda_version(env, driver));
  o.Set("runtimeVersion", cuda_version(env, runtime));
  o.Set("cublas", cublas_info(env));
#else
  std::string why;
  cuda::device_count(&why);
  o.Set("reason", why);
  o.Set("devices", devices);
  o.Set("driverVersion", env.Null());
  o.Set("runtimeVersion", env.Null());
  auto cublas = Napi::Object::New(env);
  cublas.Set("found", false);
  cublas.Set("path", env.Null());
  cublas.Set("version", env.Null());
  cublas.Set("tried", Napi::Array::New(env));
  cublas.Set("tf32", false);
  o.Set("cublas", cublas);
#endif
  return o;
}

// setTf32(on): TF32 tensor cores for float32 GEMMs on CUDA; returns the setting now in
// force. Builds without CUDA have no such GEMMs, so the setting stays false there.
static Napi::Value set_tf32(const Napi::CallbackInfo& info) {
  Args a(info, "setTf32", 1);
  const bool on = a.flag(0, "on");
#ifdef REPMLP_WITH_CUDA
  cuda::set_tf32(on);
  return Napi::Boolean::New(info.Env(), cuda::tf32_enabled());
#else
  (void)on;  // checked all the same
  return Napi::Boolean::New(info.Env(), false);
#endif
}

void register_info(Napi::Object exports) {
  REPMLP_EXPORT_AS(exports, "cudaInfo", cuda_info);
  REPMLP_EXPORT_AS(exports, "setTf32", set_tf32);
}

}  // namespace repmlp

// The Node-API surface: the Storage class, runtime information, live-buffer counters and
// every kernel binding (registered by the files in ops/).
#include <napi.h>

#include "args.h"
#include "common.h"
#include "cpu_isa.h"
#include "device.h"
#include "env.h"
#include "ops/gemm.h"
#include "ops/ops.h"
#include "parallel.h"
#include "storage.h"

namespace repmlp {

static Napi::Value live_storages(const Napi::CallbackInfo& info) {
  Args a(info, "liveStorages", 0);
  auto env = info.Env();
  sweep_storages(env);
  const auto& c = live_counts();
  auto o = Napi::Object::New(env);
  o.Set("cpuBuffers", static_cast<double>(c.cpu_buffers));
  o.Set("cpuBytes", static_cast<double>(c.cpu_bytes));
  o.Set("cudaBuffers", static_cast<double>(c.cuda_buffers));
  o.Set("cudaBytes", static_cast<double>(c.cuda_bytes));
  return o;
}

static Napi::Value runtime_info(const Napi::CallbackInfo& info) {
  Args a(info, "runtimeInfo", 0);
  auto env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("threads", num_threads());
  auto panels = Napi::Array::New(env, 2);
  panels.Set(0u, Napi::Number::New(env, static_cast<double>(kGemmMR)));
  panels.Set(1u, Napi::Number::New(env, static_cast<double>(kGemmNR)));
  o.Set("gemmPanels", panels);
  o.Set("cpuIsa", cpu_isa::name(cpu_isa::current()));
  o.Set("cpuIsaSupported", cpu_isa::name(cpu_isa::supported()));
  o.Set("cudaCompiled", cuda::compiled());
  std::string why;
  const int devices = cuda::device_count(&why);
  o.Set("cudaDevices", devices);
  o.Set("cudaReason", why);
  return o;
}

// setNumThreads(n): 1 <= n <= 1024 threads; returns the number in effect.
static Napi::Value set_threads(const Napi::CallbackInfo& info) {
  Args a(info, "setNumThreads", 1);
  const int64_t n = a.size(0, "n");
  if (n < 1 || n > env::kMaxThreads)
    a.fail_arg("n", "an integer in [1, " + std::to_string(env::kMaxThreads) + "]", std::to_string(n));
  set_num_threads(static_cast<int>(n));
  return Napi::Number::New(info.Env(), num_threads());
}

// setCpuIsa(isa): "avx512" or "avx2", the GEMM kernel's instruction set (cpu_isa.h); returns
// the one in effect.
static Napi::Value set_cpu_isa(const Napi::CallbackInfo& info) {
  Args a(info, "setCpuIsa", 1);
  const cpu_isa::Isa isas[] = {cpu_isa::Isa::Avx512, cpu_isa::Isa::Avx2};  // in the order of the names
  cpu_isa::set(isas[a.choice(0, "isa", {"avx512", "avx2"})], "setCpuIsa: isa");
  return Napi::String::New(info.Env(), cpu_isa::name(cpu_isa::current()));
}

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  // A malformed REPMLP_* variable fails the load (require() throws its Error) rather than
  // being ignored, or misread at some later first use.
  repmlp::env::check_all();
  exports.Set("Storage", storage_class(env));
  REPMLP_EXPORT_AS(exports, "liveStorages", live_storages);
  REPMLP_EXPORT_AS(exports, "runtimeInfo", runtime_info);
  REPMLP_EXPORT_AS(exports, "setNumThreads", set_threads);
  REPMLP_EXPORT_AS(exports, "setCpuIsa", set_cpu_isa);
  register_conv2d(exports);
  register_batchnorm(exports);
  register_binary(exports);
  register_copy(exports);
  register_reduce(exports);
  register_bias_grad(exports);
  register_memory(exports);
  register_gemm(exports);
  register_info(exports);
  register_unary(exports);
  register_scale(exports);
  register_unpartition_gate(exports);
  register_maxpool(exports);
  register_cross_entropy(exports);
  register_correct_count(exports);
  register_adamw(exports);
  register_sgd(exports);
  register_infer(exports);
  register_dist(exports);
  return exports;
}

}  // namespace repmlp

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return repmlp::init(env, exports); }
NODE_API_MODULE(repmlp, Init)

// The Node-API surface: the Storage class, runtime information, live-buffer counters and
// every kernel binding (registered by the files in ops/).
#include <napi.h>

#include "common.h"
#include "device.h"
#include "ops/ops.h"
#include "parallel.h"
#include "storage.h"

namespace repmlp {

static Napi::Value live_storages(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const auto& c = live_counts();
  auto o = Napi::Object::New(env);
  o.Set("cpuBuffers", static_cast<double>(c.cpu_buffers));
  o.Set("cpuBytes", static_cast<double>(c.cpu_bytes));
  o.Set("cudaBuffers", static_cast<double>(c.cuda_buffers));
  o.Set("cudaBytes", static_cast<double>(c.cuda_bytes));
  return o;
}

static Napi::Value runtime_info(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("threads", num_threads());
  o.Set("cudaCompiled", cuda::compiled());
  std::string why;
  const int devices = cuda::device_count(&why);
  o.Set("cudaDevices", devices);
  o.Set("cudaReason", why);
  return o;
}

static Napi::Value set_threads(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsNumber())
    throw Error("setNumThreads: expected a number for threads");
  set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return Napi::Number::New(info.Env(), num_threads());
}

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("Storage", StorageObject::Init(env));
  exports.Set("liveStorages", Napi::Function::New(env, live_storages, "liveStorages"));
  exports.Set("runtimeInfo", Napi::Function::New(env, runtime_info, "runtimeInfo"));
  exports.Set("setNumThreads", Napi::Function::New(env, set_threads, "setNumThreads"));
  register_conv2d(exports);
  register_batchnorm(exports);
  register_binary(exports);
  register_copy(exports);
  register_gelu(exports);
  register_reduce(exports);
  register_bias_grad(exports);
  register_memory(exports);
  register_gemm(exports);
  register_info(exports);
  register_relu(exports);
  register_scale(exports);
  register_sigmoid(exports);
  register_unpartition_gate(exports);
  register_cross_entropy(exports);
  register_correct_count(exports);
  register_adamw(exports);
  register_sgd(exports);
  return exports;
}

}  // namespace repmlp

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return repmlp::init(env, exports); }
NODE_API_MODULE(repmlp, Init)

// Argument checking for kernel bindings. Every binding validates its arguments again on
// the native side (TypeScript checks first): storages must be live, of the right dtype,
// on one device and large enough for the sizes given, so a bad call is a JS exception
// and never an out-of-bounds access.
#pragma once
#include <napi.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "storage.h"
#ifdef REPMLP_WITH_CUDA
#include "cuda/kernels.h"
#endif

namespace repmlp {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op, size_t count) : info_(info), op_(op) {
    if (info.Length() != count)
      fail("expected " + std::to_string(count) + " arguments but received " + std::to_string(info.Length()));
  }

  // A non-negative integer size.
  int64_t size(size_t i, const char* name) const {
    const double v = number(i, name);
    if (!(v >= 0) || v != static_cast<double>(static_cast<int64_t>(v)))
      fail_arg(name, "a non-negative integer", std::to_string(v));
    return static_cast<int64_t>(v);
  }
  // Any integer (strides and offsets may be signed).
  int64_t integer(size_t i, const char* name) const {
    const double v = number(i, name);
    if (v != static_cast<double>(static_cast<int64_t>(v))) fail_arg(name, "an integer", std::to_string(v));
    return static_cast<int64_t>(v);
  }
  double number(size_t i, const char* name) const {
    if (!info_[i].IsNumber()) fail_arg(name, "a number", type_of(info_[i]));
    return info_[i].As<Napi::Number>().DoubleValue();
  }
  // An array of integers (a shape or strides), at most 8 long.
  std::vector<int64_t> dims(size_t i, const char* name) const {
    auto a = array(i, name, "an array of integers");
    if (a.Length() > 8) fail_arg(name, "at most 8 dimensions", std::to_string(a.Length()));
    return integers(a, name);
  }
  // An array of non-negative integers of any length (per-tensor sizes of a multi-tensor op).
  std::vector<int64_t> sizes(size_t i, const char* name) const {
    std::vector<int64_t> out = integers(array(i, name, "an array of non-negative integers"), name);
    for (int64_t v : out)
      if (v < 0) fail_arg(name, "an array of non-negative integers", "a negative element");
    return out;
  }
  std::vector<bool> flags(size_t i, const char* name) const {
    auto a = array(i, name, "an array of booleans");
    std::vector<bool> out(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value v = a[k];
      if (!v.IsBoolean()) fail_arg(name, "an array of booleans", "an element that is " + type_of(v));
      out[k] = v.As<Napi::Boolean>().Value();
    }
    return out;
  }
  // An optional argument left out with null (or undefined).
  bool is_null(size_t i) const { return info_[i].IsNull() || info_[i].IsUndefined(); }
  bool flag(size_t i, const char* name) const {
    if (!info_[i].IsBoolean()) fail_arg(name, "a boolean", type_of(info_[i]));
    return info_[i].As<Napi::Boolean>().Value();
  }

  // A float32 storage holding at least offset + need elements.
  float* f32(size_t i, const char* name, int64_t need, int64_t offset = 0) {
    return static_cast<float*>(storage(i, name, DType::F32, need, offset));
  }
  // f32, or nullptr when the argument is null (undefined is refused, as a missing argument).
  float* optional_f32(size_t i, const char* name, int64_t need) {
    return info_[i].IsNull() ? nullptr : f32(i, name, need);
  }
  int64_t* i64(size_t i, const char* name, int64_t need, int64_t offset = 0) {
    return static_cast<int64_t*>(storage(i, name, DType::I64, need, offset));
  }
  // An array of float32 storages, element k holding at least need[k] elements.
  std::vector<float*> f32_list(size_t i, const char* name, const std::vector<int64_t>& need) {
    auto a = array(i, name, "an array of Storages");
    if (a.Length() != need.size())
      fail_arg(name, std::to_string(need.size()) + " storages", std::to_string(a.Length()));
    std::vector<float*> out(need.size());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      const std::string item = std::string(name) + "[" + std::to_string(k) + "]";
      out[k] = static_cast<float*>(storage_of(a[k], item.c_str(), DType::F32, need[k], 0));
    }
    return out;
  }

  // A live storage of any dtype and device (for bindings that check those themselves).
  Storage& any_storage(size_t i, const char* name) const { return live_storage(info_[i], name); }

  // The device of the storages seen so far (CPU when none).
  Device device() const { return device_; }
  const char* op() const { return op_; }

  // The product of sizes, failing when it does not fit in 64 bits.
  int64_t product(std::initializer_list<int64_t> sizes) const {
    int64_t p = 1;
    for (int64_t x : sizes)
      if (__builtin_mul_overflow(p, x, &p)) fail("expected sizes whose products fit in 64 bits");
    return p;
  }

  // Outputs (name, pointer; null ones skipped) must not share a storage with each other or
  // with the inputs: the kernels read their inputs while they write.
  using Named = std::pair<const char*, const void*>;
  void check_distinct(std::initializer_list<Named> outs, std::initializer_list<Named> all) const {
    for (const auto& o : outs) {
      if (!o.second) continue;
      for (const auto& x : all)
        if (x.second == o.second && x.first != o.first)
          fail_arg(o.first, std::string("a storage distinct from ") + x.first, "the same storage");
    }
  }

  [[noreturn]] void fail(const std::string& what) const { throw Error(std::string(op_) + ": " + what); }
  [[noreturn]] void fail_arg(const char* name, const std::string& expected, const std::string& received) const {
    fail("expected " + expected + " for " + name + " but received " + received);
  }

 private:
  Napi::Array array(size_t i, const char* name, const char* expected) const {
    if (!info_[i].IsArray()) fail_arg(name, expected, type_of(info_[i]));
    return info_[i].As<Napi::Array>();
  }
  std::vector<int64_t> integers(const Napi::Array& a, const char* name) const {
    std::vector<int64_t> out(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value v = a[k];
      const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0.5;
      if (d != static_cast<double>(static_cast<int64_t>(d))) fail_arg(name, "an array of integers", "a non-integer element");
      out[k] = static_cast<int64_t>(d);
    }
    return out;
  }
  Storage& live_storage(const Napi::Value& v, const char* name) const {
    if (!StorageObject::Is(v)) fail_arg(name, "a Storage", type_of(v));
    StorageObject* so = StorageObject::Unwrap(v);
    if (so->disposed()) fail_arg(name, "a live storage", "a disposed one");
    return so->storage();
  }
  void* storage(size_t i, const char* name, DType dtype, int64_t need, int64_t offset) {
    return storage_of(info_[i], name, dtype, need, offset);
  }
  void* storage_of(const Napi::Value& v, const char* name, DType dtype, int64_t need, int64_t offset) {
    Storage& s = live_storage(v, name);
    if (s.dtype != dtype) fail_arg(name, std::string(dtype == DType::I64 ? "an " : "a ") + dtype_name(dtype) + " storage", dtype_name(s.dtype));
    if (seen_device_ && s.device != device_)
      fail_arg(name, std::string("a storage on ") + device_name(device_) + " like the arguments before it",
               std::string("one on ") + device_name(s.device));
    seen_device_ = true;
    device_ = s.device;
    if (offset < 0 || need < 0 || offset + need > s.numel)
      fail_arg(name, "a storage of at least " + std::to_string(offset + need) + " elements",
               "one of " + std::to_string(s.numel));
    return static_cast<char*>(s.ptr) + offset * static_cast<int64_t>(dtype_size(dtype));
  }

  static std::string type_of(const Napi::Value& v) {
    switch (v.Type()) {
      case napi_undefined: return "undefined";
      case napi_null: return "null";
      case napi_boolean: return "a boolean";
      case napi_number: return "a number";
      case napi_string: return "a string";
      case napi_bigint: return "a bigint";
      case napi_function: return "a function";
      default: return "an object";
    }
  }

  const Napi::CallbackInfo& info_;
  const char* op_;
  Device device_ = Device::CPU;
  bool seen_device_ = false;
};

// Calls the CUDA twin of a kernel, or throws when the addon was built without CUDA.
#ifdef REPMLP_WITH_CUDA
#define REPMLP_CUDA(args, call) cuda::call
#else
#define REPMLP_CUDA(args, call) (args).fail("this build of repmlp has no CUDA support")
#endif

// Registers a binding under its own name.
#define REPMLP_EXPORT(exports, fn) (exports).Set(#fn, Napi::Function::New((exports).Env(), fn, #fn))

}  // namespace repmlp

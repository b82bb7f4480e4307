#include "storage.h"

#include "device.h"

namespace repmlp {

Napi::FunctionReference* StorageObject::ctor_ = nullptr;

LiveCounts& live_counts() {
  static LiveCounts c;
  return c;
}

Napi::Function StorageObject::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "Storage",
                                 {InstanceMethod("dispose", &StorageObject::Dispose),
                                  InstanceMethod("read", &StorageObject::Read),
                                  InstanceMethod("write", &StorageObject::Write),
                                  InstanceAccessor("numel", &StorageObject::GetNumel, nullptr),
                                  InstanceAccessor("dtype", &StorageObject::GetDType, nullptr),
                                  InstanceAccessor("device", &StorageObject::GetDevice, nullptr),
                                  InstanceAccessor("disposed", &StorageObject::GetDisposed, nullptr)});
  ctor_ = new Napi::FunctionReference(Napi::Persistent(f));
  return f;
}

bool StorageObject::Is(Napi::Value v) {
  return ctor_ && v.IsObject() && v.As<Napi::Object>().InstanceOf(ctor_->Value());
}

// new Storage(device: 'cpu' | 'cuda', dtype: 'float32' | 'int64', numel: number)
StorageObject::StorageObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StorageObject>(info) {
  auto env = info.Env();
  if (info.Length() != 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "Storage: expected (device: 'cpu' | 'cuda', dtype: 'float32' | 'int64', numel: number)");
  const std::string device = info[0].As<Napi::String>();
  const std::string dtype = info[1].As<Napi::String>();
  const double numel = info[2].As<Napi::Number>().DoubleValue();
  if (device == "cpu") s_.device = Device::CPU;
  else if (device == "cuda") s_.device = Device::CUDA;
  else throw Napi::TypeError::New(env, "Storage: expected 'cpu' or 'cuda' for device but received '" + device + "'");
  if (dtype == "float32") s_.dtype = DType::F32;
  else if (dtype == "int64") s_.dtype = DType::I64;
  else throw Napi::TypeError::New(env, "Storage: expected 'float32' or 'int64' for dtype but received '" + dtype + "'");
  if (!(numel >= 0) || numel != static_cast<double>(static_cast<int64_t>(numel)) || numel > 1e12)
    throw Napi::RangeError::New(env, "Storage: expected a non-negative integer for numel but received " + std::to_string(numel));
  s_.numel = static_cast<int64_t>(numel);
  if (s_.numel > 0) s_.ptr = device_alloc(s_.device, s_.bytes());
  auto& c = live_counts();
  const int64_t bytes = static_cast<int64_t>(s_.bytes());
  if (s_.device == Device::CPU) {
    c.cpu_buffers++;
    c.cpu_bytes += bytes;
    // Lets the garbage collector see host memory held by tensors it may collect.
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  } else {
    c.cuda_buffers++;
    c.cuda_bytes += bytes;
  }
}

StorageObject::~StorageObject() {
  if (!freed_) {
    // Finalizer path: no env calls allowed here beyond freeing.
    device_free(s_.device, s_.ptr, s_.bytes());
    auto& c = live_counts();
    const int64_t bytes = static_cast<int64_t>(s_.bytes());
    if (s_.device == Device::CPU) c.cpu_buffers--, c.cpu_bytes -= bytes;
    else c.cuda_buffers--, c.cuda_bytes -= bytes;
  }
}

void StorageObject::release(Napi::Env env) {
  if (freed_) return;
  freed_ = true;
  device_free(s_.device, s_.ptr, s_.bytes());
  s_.ptr = nullptr;
  auto& c = live_counts();
  const int64_t bytes = static_cast<int64_t>(s_.bytes());
  if (s_.device == Device::CPU) {
    c.cpu_buffers--, c.cpu_bytes -= bytes;
    Napi::MemoryManagement::AdjustExternalMemory(env, -bytes);
  } else {
    c.cuda_buffers--, c.cuda_bytes -= bytes;
  }
}

Napi::Value StorageObject::Dispose(const Napi::CallbackInfo& info) {
  release(info.Env());
  return info.Env().Undefined();
}

static void check_range(const char* what, const Storage& s, bool freed, double offset, double count) {
  if (freed) throw Error(std::string("Storage.") + what + ": the storage was disposed");
  if (!(offset >= 0) || !(count >= 0) || offset + count > static_cast<double>(s.numel))
    throw Error(std::string("Storage.") + what + ": expected a range inside [0, " + std::to_string(s.numel) +
                ") but received offset " + std::to_string(offset) + " and count " + std::to_string(count));
}

// read(offset, count) -> Float32Array | BigInt64Array (a host copy)
Napi::Value StorageObject::Read(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const double offset = info.Length() > 0 ? info[0].ToNumber().DoubleValue() : 0;
  const double count = info.Length() > 1 ? info[1].ToNumber().DoubleValue() : s_.numel - offset;
  check_range("read", s_, freed_, offset, count);
  const size_t es = dtype_size(s_.dtype), n = static_cast<size_t>(count);
  auto ab = Napi::ArrayBuffer::New(env, n * es);
  copy_to_host(s_.device, ab.Data(), static_cast<char*>(s_.ptr) + static_cast<size_t>(offset) * es, n * es);
  if (s_.dtype == DType::F32) return Napi::Float32Array::New(env, n, ab, 0);
  return Napi::TypedArrayOf<int64_t>::New(env, n, ab, 0, napi_bigint64_array);
}

// write(src: Float32Array | BigInt64Array, offset)
Napi::Value StorageObject::Write(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw Napi::TypeError::New(env, "Storage.write: expected a typed array for src");
  auto ta = info[0].As<Napi::TypedArray>();
  const bool ok = (s_.dtype == DType::F32 && ta.TypedArrayType() == napi_float32_array) ||
                  (s_.dtype == DType::I64 && ta.TypedArrayType() == napi_bigint64_array);
  if (!ok)
    throw Napi::TypeError::New(env, std::string("Storage.write: expected a ") +
                                        (s_.dtype == DType::F32 ? "Float32Array" : "BigInt64Array") +
                                        " for src of a " + dtype_name(s_.dtype) + " storage");
  const double offset = info.Length() > 1 ? info[1].ToNumber().DoubleValue() : 0;
  check_range("write", s_, freed_, offset, static_cast<double>(ta.ElementLength()));
  const size_t es = dtype_size(s_.dtype);
  const auto* src = static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  copy_from_host(s_.device, static_cast<char*>(s_.ptr) + static_cast<size_t>(offset) * es, src, ta.ByteLength());
  return env.Undefined();
}

Napi::Value StorageObject::GetNumel(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(s_.numel)); }
Napi::Value StorageObject::GetDType(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), dtype_name(s_.dtype)); }
Napi::Value StorageObject::GetDevice(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), device_name(s_.device)); }
Napi::Value StorageObject::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), freed_); }

}  // namespace repmlp

// The JS-visible Storage object: one flat allocation on the CPU or a CUDA device.
// JS holds it through TypeScript tensors (reference-counted there); dispose() frees it
// at once, and the finalizer frees whatever JS forgot.
#pragma once
#include <napi.h>

#include "common.h"

namespace repmlp {

class StorageObject : public Napi::ObjectWrap<StorageObject> {
 public:
  static Napi::Function Init(Napi::Env env);
  static bool Is(Napi::Value v);
  static StorageObject* Unwrap(Napi::Value v) { return Napi::ObjectWrap<StorageObject>::Unwrap(v.As<Napi::Object>()); }

  explicit StorageObject(const Napi::CallbackInfo& info);
  ~StorageObject() override;

  Storage& storage() { return s_; }
  bool disposed() const { return freed_; }

 private:
  void release(Napi::Env env);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Fill(const Napi::CallbackInfo& info);
  Napi::Value GetNumel(const Napi::CallbackInfo& info);
  Napi::Value GetDType(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);

  Storage s_;
  bool freed_ = false;
  static Napi::FunctionReference* ctor_;
};

}  // namespace repmlp

// Memory bindings: allocator statistics per device, emptying the caches, poisoning of new
// allocations, and copies between storages on any two devices.
//
// memoryStats(device) -> { allocated, reserved, peakAllocated, peakReserved, blocks,
//                          systemAllocs, cacheHits }   (bytes and counts, see device.h)
// resetPeakMemoryStats(device); emptyCache(device); setPoison(on) -> on
// copy_storage(dst, dstOffset, src, srcOffset, count): elements, same dtype, any devices
#include <napi.h>

#include "args.h"
#include "device.h"

namespace repmlp {

static Device device_arg(const Napi::CallbackInfo& info, const char* op) {
  if (info.Length() != 1 || !info[0].IsString())
    throw Error(std::string(op) + ": expected 'cpu' or 'cuda' for device");
  const std::string d = info[0].As<Napi::String>();
  if (d == "cpu") return Device::CPU;
  if (d == "cuda") return Device::CUDA;
  throw Error(std::string(op) + ": expected 'cpu' or 'cuda' for device but received '" + d + "'");
}

static Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  const MemStats s = memory_stats(device_arg(info, "memoryStats"));
  auto o = Napi::Object::New(info.Env());
  o.Set("allocated", static_cast<double>(s.allocated));
  o.Set("reserved", static_cast<double>(s.reserved));
  o.Set("peakAllocated", static_cast<double>(s.peak_allocated));
  o.Set("peakReserved", static_cast<double>(s.peak_reserved));
  o.Set("blocks", static_cast<double>(s.blocks));
  o.Set("systemAllocs", static_cast<double>(s.system_allocs));
  o.Set("cacheHits", static_cast<double>(s.cache_hits));
  return o;
}

static Napi::Value resetPeakMemoryStats(const Napi::CallbackInfo& info) {
  reset_peak_memory_stats(device_arg(info, "resetPeakMemoryStats"));
  return info.Env().Undefined();
}

static Napi::Value emptyCache(const Napi::CallbackInfo& info) {
  empty_cache(device_arg(info, "emptyCache"));
  return info.Env().Undefined();
}

static Napi::Value setPoison(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsBoolean()) throw Error("setPoison: expected a boolean for on");
  set_poison(info[0].As<Napi::Boolean>().Value());
  return Napi::Boolean::New(info.Env(), poison_enabled());
}

static Napi::Value copy_storage(const Napi::CallbackInfo& info) {
  Args a(info, "copy_storage", 5);
  Storage& dst = a.any_storage(0, "dst");
  const int64_t dst_off = a.size(1, "dstOffset");
  Storage& src = a.any_storage(2, "src");
  const int64_t src_off = a.size(3, "srcOffset"), n = a.size(4, "count");
  if (dst.dtype != src.dtype) a.fail_arg("src", std::string(dst.dtype == DType::I64 ? "an " : "a ") + dtype_name(dst.dtype) + " storage like dst", dtype_name(src.dtype));
  if (dst_off + n > dst.numel) a.fail_arg("dst", "a storage of at least " + std::to_string(dst_off + n) + " elements", "one of " + std::to_string(dst.numel));
  if (src_off + n > src.numel) a.fail_arg("src", "a storage of at least " + std::to_string(src_off + n) + " elements", "one of " + std::to_string(src.numel));
  const size_t es = dtype_size(dst.dtype);
  copy_between(dst.device, static_cast<char*>(dst.ptr) + dst_off * es, src.device, static_cast<const char*>(src.ptr) + src_off * es,
               static_cast<size_t>(n) * es);
  return info.Env().Undefined();
}

void register_memory(Napi::Object exports) {
  REPMLP_EXPORT(exports, memoryStats);
  REPMLP_EXPORT(exports, resetPeakMemoryStats);
  REPMLP_EXPORT(exports, emptyCache);
  REPMLP_EXPORT(exports, setPoison);
  REPMLP_EXPORT(exports, copy_storage);
}

}  // namespace repmlp

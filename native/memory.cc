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
#include "storage.h"

namespace repmlp {

// The single device argument of the statistics bindings.
static Device device_arg(const Napi::CallbackInfo& info, const char* op) {
  Args a(info, op, 1);
  return a.choice(0, "device", {"cpu", "cuda"}) == 0 ? Device::CPU : Device::CUDA;
}

static Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  const Device d = device_arg(info, "memoryStats");
  sweep_storages(info.Env());
  const MemStats s = memory_stats(d);
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
  const Device d = device_arg(info, "emptyCache");
  sweep_storages(info.Env());
  empty_cache(d);
  return info.Env().Undefined();
}

static Napi::Value setPoison(const Napi::CallbackInfo& info) {
  Args a(info, "setPoison", 1);
  set_poison(a.flag(0, "on"));
  return Napi::Boolean::New(info.Env(), poison_enabled());
}

static Napi::Value copy_storage(const Napi::CallbackInfo& info) {
  Args a(info, "copy_storage", 5);
  Storage& dst = a.any_storage(0, "dst");
  const int64_t dst_off = a.size(1, "dstOffset");
  Storage& src = a.any_storage(2, "src");
  const int64_t src_off = a.size(3, "srcOffset"), n = a.size(4, "count");
  if (dst.dtype != src.dtype) a.fail_arg("src", std::string(dst.dtype == DType::I64 ? "an " : "a ") + dtype_name(dst.dtype) + " storage like dst", dtype_name(src.dtype));
  if (a.add(dst_off, n) > dst.numel) a.fail_arg("dst", "a storage of at least " + std::to_string(dst_off + n) + " elements", "one of " + std::to_string(dst.numel));
  if (a.add(src_off, n) > src.numel) a.fail_arg("src", "a storage of at least " + std::to_string(src_off + n) + " elements", "one of " + std::to_string(src.numel));
  const size_t es = dtype_size(dst.dtype);
  char* d = static_cast<char*>(dst.ptr) + dst_off * es;
  const char* s = static_cast<const char*>(src.ptr) + src_off * es;
  // memcpy and cudaMemcpy leave overlapping ranges undefined; ranges apart in one storage are fine.
  if (dst.device == src.device) a.check_disjoint("dst", d, n * es, "src", s, n * es);
  copy_between(dst.device, d, src.device, s, static_cast<size_t>(n) * es);
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

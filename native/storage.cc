#include "storage.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <deque>
#include <new>
#include <type_traits>
#include <vector>

#include "device.h"

namespace repmlp {

LiveCounts& live_counts() {
  static LiveCounts c;
  return c;
}

namespace {

// Marks objects made by the Storage constructor ("repmlpSTorage v2").
constexpr napi_type_tag kStorageTag = {0x7265706d6c705354ULL, 0x6f72616765207632ULL};

// Allocations between two sweeps of the table: at least this many, and at least as many as
// the table holds, so that a sweep costs O(1) per allocation.
constexpr size_t kMinSweepAllocs = 1024;
// A sweep also runs after this many bytes were allocated since the last one, so that large
// storages dropped without dispose() are found soon after the collector took their objects.
constexpr int64_t kSweepBytes = int64_t{64} << 20;

struct Entry {
  Storage s;                 // first, so that a binding's Storage& leads back to its entry
  napi_ref owner = nullptr;  // weak reference to the JS object; null while the slot is free
  uint32_t pins = 0;         // bindings using the storage right now
  bool disposed = false;
  bool held = false;  // the memory is allocated (and counted); false once it is freed
};
static_assert(std::is_standard_layout_v<Entry> && offsetof(Entry, s) == 0, "Entry must begin with its Storage");

// What the garbage collector is told of the native memory this environment's storages hold
// (napi_adjust_external_memory), so that it runs when storages dropped without dispose() pile
// up. V8 starts a major collection whenever that amount has grown by some 64 MB since its
// last one: told of every allocation and free, a training step that allocates and disposes a
// gigabyte of activations started one every 64 MB of it, about twenty a step, whose
// concurrent marking took cores from the kernels (a cifar step ran 20% slower). So it is told
// the high-water mark of the live bytes: raised as soon as they exceed it, never lowered. A
// loop whose memory stays within its peak triggers no collections by its native memory (its
// JS objects still do); memory that piles up beyond the peak is reported at once, as before.
class ExternalMemory {
 public:
  void change(napi_env env, int64_t bytes) {
    live_ += bytes;
    if (live_ > reported_) {
      int64_t ignored;
      napi_adjust_external_memory(env, live_ - reported_, &ignored);
      reported_ = live_;
    }
  }

 private:
  int64_t live_ = 0, reported_ = 0;
};

// One table per Node-API environment (the main thread, or a worker that loads the addon).
struct Table {
  std::deque<Entry> entries;  // a deque: an entry never moves while a binding holds it
  std::vector<size_t> free_slots;
  size_t allocs_since_sweep = 0;
  int64_t bytes_since_sweep = 0;
  napi_ref key = nullptr;  // the private symbol under which an object keeps its slot
  ExternalMemory external;
};

void throw_if(napi_status st, const char* what) {
  if (st != napi_ok) throw Error(std::string("Storage: ") + what + " failed (Node-API status " + std::to_string(st) + ")");
}

Table& table_of(napi_env env) {
  void* data = nullptr;
  throw_if(napi_get_instance_data(env, &data), "reading the storage table");
  if (!data) throw Error("Storage: the addon was not initialised in this environment");
  return *static_cast<Table*>(data);
}

void count(const Storage& s, int sign) {
  auto& c = live_counts();
  const int64_t bytes = static_cast<int64_t>(s.bytes()) * sign;
  if (s.device == Device::CPU) c.cpu_buffers += sign, c.cpu_bytes += bytes;
  else c.cuda_buffers += sign, c.cuda_bytes += bytes;
}

// Frees an entry's memory (once), and counts it out of the environment's external memory
// (ExternalMemory; env is null only when the environment itself is going away).
void free_memory(napi_env env, Entry& e) {
  if (!e.held) return;
  e.held = false;
  device_free(e.s.device, e.s.ptr, e.s.bytes());
  count(e.s, -1);
  void* data = nullptr;
  if (env && napi_get_instance_data(env, &data) == napi_ok && data)
    static_cast<Table*>(data)->external.change(env, -static_cast<int64_t>(e.s.bytes()));
  e.s.ptr = nullptr;
}

// Frees the memory of every storage whose object was collected, and recycles its slot.
void sweep(napi_env env, Table& t) {
  t.allocs_since_sweep = 0;
  t.bytes_since_sweep = 0;
  napi_handle_scope scope;
  throw_if(napi_open_handle_scope(env, &scope), "opening a handle scope");
  for (size_t i = 0; i < t.entries.size(); ++i) {
    Entry& e = t.entries[i];
    if (!e.owner || e.pins) continue;
    napi_value obj = nullptr;
    if (napi_get_reference_value(env, e.owner, &obj) != napi_ok || obj) continue;
    free_memory(env, e);
    napi_delete_reference(env, e.owner);
    e = Entry{};
    t.free_slots.push_back(i);
  }
  napi_close_handle_scope(env, scope);
}

// Allocates on the device; when that fails, frees what the collector has already taken and
// tries once more.
void* alloc_or_sweep(napi_env env, Table& t, Device d, size_t bytes) {
  try {
    return device_alloc(d, bytes);
  } catch (const Error&) {
    sweep(env, t);
  } catch (const std::bad_alloc&) {
    sweep(env, t);
  }
  try {
    return device_alloc(d, bytes);
  } catch (const std::bad_alloc&) {
    throw Error("Storage: out of " + std::string(d == Device::CPU ? "host" : "device") + " memory: could not allocate " +
                std::to_string(bytes) + " bytes");
  } catch (const Error& e) {
    throw Error(std::string("Storage: ") + e.what());
  }
}

size_t take_slot(Table& t) {
  if (!t.free_slots.empty()) {
    const size_t i = t.free_slots.back();
    t.free_slots.pop_back();
    return i;
  }
  t.entries.emplace_back();
  return t.entries.size() - 1;
}

// The entry of a Storage object, or nullptr when v is not one. Runs no JS code: the tag is
// checked first, and a tagged object's slot property is an own, read-only data property.
Entry* entry_of(napi_env env, napi_value v) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_object) return nullptr;
  bool tagged = false;
  if (napi_check_object_type_tag(env, v, &kStorageTag, &tagged) != napi_ok || !tagged) return nullptr;
  Table& t = table_of(env);
  napi_value key, slot;
  uint32_t i;
  if (napi_get_reference_value(env, t.key, &key) != napi_ok || napi_get_property(env, v, key, &slot) != napi_ok ||
      napi_get_value_uint32(env, slot, &i) != napi_ok || i >= t.entries.size())
    return nullptr;
  return &t.entries[i];
}

std::string describe(napi_env env, napi_value v) {
  const std::string kind = value_kind(env, v);
  return kind == "an object" ? "an object that is not a Storage" : kind;
}

Entry& this_entry(const Napi::CallbackInfo& info, const char* method) {
  Entry* e = entry_of(info.Env(), info.This());
  if (!e) throw Error(std::string("Storage.") + method + ": expected a Storage as this");
  return *e;
}

// Gives a new object its slot (an own, read-only, non-configurable property under the
// private symbol) and the tag, and makes the table's weak reference to it.
bool tag_object(napi_env env, Table& t, napi_value self, size_t slot, napi_ref* owner) {
  if (napi_create_reference(env, self, 0, owner) != napi_ok) return false;
  napi_property_descriptor prop = {};
  prop.attributes = napi_default;
  // The tag comes last: an object is taken for a Storage only once it holds its slot.
  if (napi_get_reference_value(env, t.key, &prop.name) == napi_ok &&
      napi_create_double(env, static_cast<double>(slot), &prop.value) == napi_ok &&
      napi_define_properties(env, self, 1, &prop) == napi_ok && napi_type_tag_object(env, self, &kStorageTag) == napi_ok)
    return true;
  napi_delete_reference(env, *owner);
  *owner = nullptr;
  return false;
}

// new Storage(device: 'cpu' | 'cuda', dtype: 'float32' | 'int64', numel: number)
Napi::Value construct(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (info.NewTarget().IsEmpty()) throw Napi::TypeError::New(env, "Storage: use new Storage(device, dtype, numel)");
  if (info.Length() != 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "Storage: expected (device: 'cpu' | 'cuda', dtype: 'float32' | 'int64', numel: number)");
  const std::string device = info[0].As<Napi::String>();
  const std::string dtype = info[1].As<Napi::String>();
  const double numel = info[2].As<Napi::Number>().DoubleValue();
  Storage s;
  if (device == "cpu") s.device = Device::CPU;
  else if (device == "cuda") s.device = Device::CUDA;
  else throw Napi::TypeError::New(env, "Storage: expected 'cpu' or 'cuda' for device but received '" + device + "'");
  if (dtype == "float32") s.dtype = DType::F32;
  else if (dtype == "int64") s.dtype = DType::I64;
  else throw Napi::TypeError::New(env, "Storage: expected 'float32' or 'int64' for dtype but received '" + dtype + "'");
  if (!(numel >= 0) || numel > 1e12 || numel != std::floor(numel))
    throw Napi::RangeError::New(env, "Storage: expected an integer in [0, 1e12] for numel but received " + Napi::Number::New(env, numel).ToString().Utf8Value());
  s.numel = static_cast<int64_t>(numel);

  Table& t = table_of(env);
  if (t.allocs_since_sweep >= std::max(kMinSweepAllocs, t.entries.size()) || t.bytes_since_sweep >= kSweepBytes) sweep(env, t);
  const int64_t bytes = static_cast<int64_t>(s.bytes());
  if (s.numel > 0) s.ptr = alloc_or_sweep(env, t, s.device, s.bytes());
  t.allocs_since_sweep++;
  t.bytes_since_sweep += bytes;

  const size_t slot = take_slot(t);
  Entry& e = t.entries[slot];
  e.s = s;
  e.held = true;
  count(s, +1);
  if (!tag_object(env, t, info.This(), slot, &e.owner)) {
    free_memory(nullptr, e);
    e = Entry{};
    t.free_slots.push_back(slot);
    throw Error("Storage: could not set up the storage object");
  }
  t.external.change(env, bytes);
  return env.Undefined();
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  Entry& e = this_entry(info, "dispose");
  e.disposed = true;
  if (!e.pins) free_memory(info.Env(), e);
  return info.Env().Undefined();
}

// An element range [offset, offset + count) of the storage, from plain numbers only (no
// valueOf: converting an argument must not run JS code that could dispose the storage).
void range_arg(const Napi::CallbackInfo& info, const char* what, size_t i, double fallback, double* out) {
  if (info.Length() <= i || info[i].IsUndefined()) {
    *out = fallback;
    return;
  }
  if (!info[i].IsNumber()) throw Error(std::string("Storage.") + what + ": expected a number for argument " + std::to_string(i + 1));
  *out = info[i].As<Napi::Number>().DoubleValue();
}

void check_range(const char* what, const Entry& e, double offset, double count) {
  if (e.disposed) throw Error(std::string("Storage.") + what + ": the storage was disposed");
  const double numel = static_cast<double>(e.s.numel);
  if (!(offset >= 0) || !(count >= 0) || offset != std::floor(offset) || count != std::floor(count) || offset + count > numel)
    throw Error(std::string("Storage.") + what + ": expected an integer range inside [0, " + std::to_string(e.s.numel) +
                ") but received offset " + std::to_string(offset) + " and count " + std::to_string(count));
}

// read(offset = 0, count = numel - offset) -> Float32Array | BigInt64Array (a host copy)
Napi::Value read(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  Entry& e = this_entry(info, "read");
  double offset, count;
  range_arg(info, "read", 0, 0, &offset);
  range_arg(info, "read", 1, static_cast<double>(e.s.numel) - offset, &count);
  check_range("read", e, offset, count);
  const size_t es = dtype_size(e.s.dtype), n = static_cast<size_t>(count);
  auto ab = Napi::ArrayBuffer::New(env, n * es);
  copy_to_host(e.s.device, ab.Data(), static_cast<char*>(e.s.ptr) + static_cast<size_t>(offset) * es, n * es);
  if (e.s.dtype == DType::F32) return Napi::Float32Array::New(env, n, ab, 0);
  return Napi::TypedArrayOf<int64_t>::New(env, n, ab, 0, napi_bigint64_array);
}

// write(src: Float32Array | BigInt64Array, offset = 0)
Napi::Value write(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  Entry& e = this_entry(info, "write");
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "Storage.write: expected a typed array for src");
  auto ta = info[0].As<Napi::TypedArray>();
  const bool ok = (e.s.dtype == DType::F32 && ta.TypedArrayType() == napi_float32_array) ||
                  (e.s.dtype == DType::I64 && ta.TypedArrayType() == napi_bigint64_array);
  if (!ok)
    throw Napi::TypeError::New(env, std::string("Storage.write: expected a ") + (e.s.dtype == DType::F32 ? "Float32Array" : "BigInt64Array") +
                                        " for src of a " + dtype_name(e.s.dtype) + " storage");
  double offset;
  range_arg(info, "write", 1, 0, &offset);
  check_range("write", e, offset, static_cast<double>(ta.ElementLength()));
  const size_t es = dtype_size(e.s.dtype);
  const auto* src = static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  copy_from_host(e.s.device, static_cast<char*>(e.s.ptr) + static_cast<size_t>(offset) * es, src, ta.ByteLength());
  return env.Undefined();
}

Napi::Value get_numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(this_entry(info, "numel").s.numel));
}
Napi::Value get_dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_name(this_entry(info, "dtype").s.dtype));
}
Napi::Value get_device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), device_name(this_entry(info, "device").s.device));
}
Napi::Value get_disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), this_entry(info, "disposed").disposed);
}

// Frees what is left when the environment goes away (the process exits or a worker ends).
void finalize_table(napi_env, void* data, void*) {
  auto* t = static_cast<Table*>(data);
  for (Entry& e : t->entries)
    free_memory(nullptr, e);
  delete t;
}

}  // namespace

Storage& pin_storage(napi_env env, napi_value v, const char* op, const char* name) {
  Entry* e = entry_of(env, v);
  const auto where = [op] { return std::string(op) + ": expected "; };  // built only for an error
  if (!e) throw Error(where() + "a Storage for " + name + " but received " + describe(env, v));
  if (e->disposed) throw Error(where() + "a live storage for " + name + " but received a disposed one");
  e->pins++;
  return e->s;
}

void unpin_storage(napi_env env, const Storage& s) {
  Entry& e = *reinterpret_cast<Entry*>(const_cast<Storage*>(&s));
  if (--e.pins == 0 && e.disposed) free_memory(env, e);
}

const Storage* peek_storage(napi_env env, napi_value v) {
  const Entry* e = entry_of(env, v);
  return e && !e->disposed ? &e->s : nullptr;
}

std::string value_kind(napi_env env, napi_value v) {
  napi_valuetype type = napi_undefined;
  napi_typeof(env, v, &type);
  switch (type) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "a number";
    case napi_string: return "a string";
    case napi_bigint: return "a bigint";
    case napi_function: return "a function";
    default: {
      bool array = false;
      napi_is_array(env, v, &array);
      return array ? "an array" : "an object";
    }
  }
}

void sweep_storages(napi_env env) { sweep(env, table_of(env)); }

Napi::Function storage_class(Napi::Env env) {
  auto* t = new Table();
  napi_value key;
  throw_if(napi_create_symbol(env, Napi::String::New(env, "repmlp.storage.slot"), &key), "creating the slot symbol");
  throw_if(napi_create_reference(env, key, 1, &t->key), "keeping the slot symbol");
  throw_if(napi_set_instance_data(env, t, finalize_table, nullptr), "setting the storage table");
  Napi::Function ctor = Napi::Function::New(env, construct, "Storage");
  Napi::Object proto = ctor.Get("prototype").As<Napi::Object>();
  using P = Napi::PropertyDescriptor;
  proto.DefineProperties({P::Function(env, proto, "dispose", dispose), P::Function(env, proto, "read", read),
                          P::Function(env, proto, "write", write), P::Accessor<get_numel>("numel"),
                          P::Accessor<get_dtype>("dtype"), P::Accessor<get_device>("device"),
                          P::Accessor<get_disposed>("disposed")});
  return ctor;
}

}  // namespace repmlp

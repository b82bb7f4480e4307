// Argument checking for kernel bindings. Every binding validates its arguments again on
// the native side (TypeScript checks first): storages must be live, of the right dtype,
// on one device and large enough for the sizes given, so a bad call is a JS exception
// and never an out-of-bounds access.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "checked.h"
#include "common.h"
#include "ops/copy.h"
#include "storage.h"

namespace repmlp {

// Runs a kernel declared with REPMLP_KERNELS on the device of the storages that `args`
// resolved: cpu::kernel(...) or its CUDA twin, which fails in a build without CUDA.
#ifdef REPMLP_WITH_CUDA
#define REPMLP_CUDA_TWIN(args, kernel, ...) ::repmlp::cuda::kernel(__VA_ARGS__)
#else
#define REPMLP_CUDA_TWIN(args, kernel, ...) (args).fail("this build of repmlp has no CUDA support")
#endif
#define REPMLP_DISPATCH(args, kernel, ...)                                            \
  do {                                                                                \
    if ((args).device() == ::repmlp::Device::CPU) ::repmlp::cpu::kernel(__VA_ARGS__); \
    else REPMLP_CUDA_TWIN(args, kernel, __VA_ARGS__);                                 \
  } while (0)

// Whether [out, out + n) and [inp, inp + m) (elements) overlap.
template <typename T>
bool ranges_overlap(const T* out, int64_t n, const T* inp, int64_t m) {
  const auto o = reinterpret_cast<uintptr_t>(out), i = reinterpret_cast<uintptr_t>(inp);
  const uintptr_t nb = static_cast<uintptr_t>(n) * sizeof(T), mb = static_cast<uintptr_t>(m) * sizeof(T);
  return n > 0 && m > 0 && o < i + mb && i < o + nb;
}

// Fails through r (anything with fail_arg) unless storage s holds offset + need elements.
template <typename R>
void check_holds(const R& r, const Storage& s, const char* name, int64_t need, int64_t offset) {
  // Written so that nothing overflows: offset + need may not fit in 64 bits.
  if (offset < 0 || need < 0 || need > s.numel || offset > s.numel - need) {
    int64_t total;
    const bool wraps = __builtin_add_overflow(offset, need, &total);
    r.fail_arg(name, "a storage of at least " + (wraps ? std::string("2^63") : std::to_string(total)) + " elements",
               "one of " + std::to_string(s.numel));
  }
}

// Bindings of kernels with many arguments take one object of named fields instead of a list
// (`Args a(info, "op", Args::named)`), read with the accessors that take a field name alone:
// a.size("N") reads field N and names it in errors, so no argument position is written
// anywhere. A field left out reads as undefined and is refused like a wrong value.
class Args {
 public:
  struct NamedFields {};
  static constexpr NamedFields named{};

  Args(const Napi::CallbackInfo& info, const char* op, size_t count) : info_(info), op_(op) {
    if (info.Length() != count)
      fail("expected " + std::to_string(count) + " arguments but received " + std::to_string(info.Length()));
  }
  Args(const Napi::CallbackInfo& info, const char* op, NamedFields) : info_(info), op_(op) {
    if (info.Length() != 1)
      fail("expected 1 argument (an object of named fields) but received " + std::to_string(info.Length()));
    if (!info[0].IsObject() || info[0].IsArray() || info[0].IsFunction())
      fail("expected an object of named fields but received " + type_of(info[0]));
    fields_ = info[0].As<Napi::Object>();
  }
  // Every storage resolved through these Args stays pinned (its memory kept, even if JS code
  // run by a later argument's conversion disposes it) until the binding returns.
  ~Args() {
    for (const Storage* s : pinned_) unpin_storage(info_.Env(), *s);
  }
  Args(const Args&) = delete;
  Args& operator=(const Args&) = delete;

  // Each accessor reads an argument by position (size(3, "N")) or, in a binding that takes
  // named fields, by name (size("N")); the name is the one errors give.

  // A non-negative integer size, at most 2^53 - 1 (checked.h says why).
  int64_t size(size_t i, const char* name) const { return size_in(info_[i], name); }
  int64_t size(const char* name) const { return size_in(field(name), name); }
  // Any integer in (-2^53, 2^53) (values that are not sizes: a scalar to add, an enum code).
  int64_t integer(size_t i, const char* name) const { return integer_in(info_[i], name); }
  int64_t integer(const char* name) const { return integer_in(field(name), name); }
  double number(size_t i, const char* name) const { return number_in(info_[i], name); }
  double number(const char* name) const { return number_in(field(name), name); }
  bool flag(size_t i, const char* name) const { return flag_in(info_[i], name); }
  bool flag(const char* name) const { return flag_in(field(name), name); }
  // An array of at most 8 non-negative integers (a shape or strides; the kernels step
  // forward only, so negative strides are refused too).
  std::vector<int64_t> dims(size_t i, const char* name) const {
    auto a = array(info_[i], name, "an array of non-negative integers");
    if (a.Length() > 8) fail_arg(name, "at most 8 dimensions", std::to_string(a.Length()));
    return integers(a, name);
  }
  // An array of non-negative integers of any length (per-tensor sizes of a multi-tensor op).
  std::vector<int64_t> sizes(size_t i, const char* name) const { return sizes_in(info_[i], name); }
  std::vector<int64_t> sizes(const char* name) const { return sizes_in(field(name), name); }
  std::vector<bool> flags(size_t i, const char* name) const { return flags_in(info_[i], name); }
  std::vector<bool> flags(const char* name) const { return flags_in(field(name), name); }
  // An optional argument left out with null (or, by position, undefined; a named field must
  // be given, null when absent, so that a misspelt name is an error and not a default).
  bool is_null(size_t i) const { return info_[i].IsNull() || info_[i].IsUndefined(); }
  bool is_null(const char* name) const { return field(name).IsNull(); }
  // One of the strings in `choices` (an op or device name); returns its index.
  size_t choice(size_t i, const char* name, std::initializer_list<const char*> choices) const {
    return choice_in(info_[i], name, choices);
  }
  size_t choice(const char* name, std::initializer_list<const char*> choices) const {
    return choice_in(field(name), name, choices);
  }
  // A named field as it is, for a binding that checks a value of its own kind (a handle).
  Napi::Value value(const char* name) const { return field(name); }

  // A float32 storage holding at least offset + need elements.
  float* f32(size_t i, const char* name, int64_t need, int64_t offset = 0) {
    return static_cast<float*>(storage_of(info_[i], name, DType::F32, need, offset));
  }
  float* f32(const char* name, int64_t need, int64_t offset = 0) {
    return static_cast<float*>(storage_of(field(name), name, DType::F32, need, offset));
  }
  // f32, or nullptr when the argument is null (undefined is refused, as a missing argument).
  float* optional_f32(size_t i, const char* name, int64_t need) {
    return info_[i].IsNull() ? nullptr : f32(i, name, need);
  }
  float* optional_f32(const char* name, int64_t need) { return is_null(name) ? nullptr : f32(name, need); }
  int64_t* i64(size_t i, const char* name, int64_t need, int64_t offset = 0) {
    return static_cast<int64_t*>(storage_of(info_[i], name, DType::I64, need, offset));
  }
  int64_t* i64(const char* name, int64_t need) { return static_cast<int64_t*>(storage_of(field(name), name, DType::I64, need, 0)); }
  int64_t* optional_i64(const char* name, int64_t need) { return is_null(name) ? nullptr : i64(name, need); }
  // An array of float32 storages, element k holding at least need[k] elements.
  std::vector<float*> f32_list(size_t i, const char* name, const std::vector<int64_t>& need) {
    return f32_list_in(info_[i], name, need);
  }
  std::vector<float*> f32_list(const char* name, const std::vector<int64_t>& need) {
    return f32_list_in(field(name), name, need);
  }

  // An array of float32 storages of any size, each pinned and on the call's device, for a
  // binding that checks every use of them itself (an inference program's steps).
  std::vector<const Storage*> f32_storages(const char* name) {
    auto arr = array(field(name), name, "an array of Storages");
    std::vector<const Storage*> out(arr.Length());
    char item[64];  // "name[k]", without a heap allocation per element
    for (uint32_t k = 0; k < arr.Length(); ++k) {
      std::snprintf(item, sizeof item, "%.40s[%u]", name, k);
      out[k] = &checked_storage(arr[k], item, DType::F32);
    }
    return out;
  }
  // A Float64Array field, copied (JS code run by a later field's getter cannot change it).
  std::vector<double> f64_array(const char* name) const {
    const Napi::Value v = field(name);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      fail_arg(name, "a Float64Array", type_of(v));
    const auto t = v.As<Napi::Float64Array>();
    return std::vector<double>(t.Data(), t.Data() + t.ElementLength());
  }
  // A Float64Array field the binding writes into, as its elements; {nullptr, 0} when null.
  std::pair<double*, size_t> optional_f64_out(const char* name) const {
    const Napi::Value v = field(name);
    if (v.IsNull()) return {nullptr, 0};
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      fail_arg(name, "a Float64Array or null", type_of(v));
    auto t = v.As<Napi::Float64Array>();
    return {t.Data(), t.ElementLength()};
  }
  // A float32 or int64 storage holding at least offset + need elements (for bindings that
  // serve both dtypes); *dtype says which.
  void* numbers(const char* name, int64_t need, int64_t offset, DType* dtype) {
    Storage& s = live_storage(field(name), name);
    *dtype = s.dtype;
    return data_at(on_call_device(s, name, s.dtype), name, need, offset);
  }

  // A live storage of any dtype and device (for bindings that check those themselves).
  Storage& any_storage(size_t i, const char* name) { return live_storage(info_[i], name); }
  // The dtype of a storage argument (for bindings that serve both dtypes).
  DType dtype_of(size_t i, const char* name) { return live_storage(info_[i], name).dtype; }

  // The device of the storages seen so far (CPU when none).
  Device device() const { return device_; }
  const char* op() const { return op_; }

  // Checked size arithmetic (checked.h), failing with this op's name.
  int64_t product(std::initializer_list<int64_t> sizes) const { return checked_product(op_, sizes); }
  int64_t product(const std::vector<int64_t>& sizes) const { return checked_product(op_, sizes); }
  int64_t add(int64_t a, int64_t b) const { return checked_add(op_, a, b); }
  int64_t mul(int64_t a, int64_t b) const { return checked_mul(op_, a, b); }
  // The elements a view of shape with strides reaches (0 when empty); the strides argument
  // must have one entry per dimension of the shape argument.
  int64_t extent(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides, const char* strides_name,
                 const char* shape_name) const {
    if (strides.size() != shape.size())
      fail_arg(strides_name, std::string("one stride per dimension of ") + shape_name + " (" + std::to_string(shape.size()) + ")",
               std::to_string(strides.size()));
    return checked_extent(op_, shape, strides);
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
  // An output range [out, out + n) must not overlap an input range [inp, inp + m) (elements):
  // for bindings that take offsets into storages, where one storage may legitimately hold
  // both when the ranges are apart.
  template <typename T>
  void check_disjoint(const char* out_name, const T* out, int64_t n, const char* inp_name, const T* inp, int64_t m) const {
    if (ranges_overlap(out, n, inp, m))
      fail_arg(out_name, std::string("an output that does not overlap ") + inp_name, "overlapping ranges of one storage");
  }
  // The same rule for lists of storages (multi-tensor ops, which update outs in place
  // elementwise): no storage appears twice among all the outs lists, nor in an ins list.
  // Sorted, so a group of hundreds of tensors costs no quadratic scan.
  struct NamedList {
    const char* name;
    const std::vector<float*>& ptrs;
  };
  void check_distinct_lists(std::initializer_list<NamedList> outs, std::initializer_list<NamedList> ins) const {
    struct Slot {
      const float* p;
      const char* name;
      size_t k;
    };
    std::vector<Slot> written;
    for (const auto& l : outs)
      for (size_t k = 0; k < l.ptrs.size(); ++k)
        if (l.ptrs[k]) written.push_back({l.ptrs[k], l.name, k});
    // Stable: of two equal pointers the first given stays first, so the error names the later one.
    std::stable_sort(written.begin(), written.end(), [](const Slot& a, const Slot& b) { return std::less<const float*>()(a.p, b.p); });
    const auto item = [](const Slot& s) { return std::string(s.name) + "[" + std::to_string(s.k) + "]"; };
    for (size_t j = 1; j < written.size(); ++j)
      if (written[j].p == written[j - 1].p)
        fail_arg(item(written[j]).c_str(), "a storage distinct from " + item(written[j - 1]), "the same storage");
    for (const auto& l : ins)
      for (size_t k = 0; k < l.ptrs.size(); ++k) {
        const float* p = l.ptrs[k];
        auto it = std::lower_bound(written.begin(), written.end(), p,
                                   [](const Slot& s, const float* q) { return std::less<const float*>()(s.p, q); });
        if (p && it != written.end() && it->p == p)
          fail_arg(item(*it).c_str(), "a storage distinct from " + item({p, l.name, k}), "the same storage");
      }
  }

  // Sets n floats at p to 0 on the call's device: the outputs of a call whose inputs are
  // empty (a sum over nothing), written without running a kernel whose other sizes may be huge.
  void zero(float* p, int64_t n) const {
    if (n == 0) return;
    REPMLP_DISPATCH(*this, fill_f32, p, 0.f, n);
  }

  [[noreturn]] void fail(const std::string& what) const { throw Error(std::string(op_) + ": " + what); }
  [[noreturn]] void fail_arg(const char* name, const std::string& expected, const std::string& received) const {
    fail("expected " + expected + " for " + name + " but received " + received);
  }

 private:
  // Field `name` of a named binding's object (a getter on it may run JS code; Args pins the
  // storages resolved so far).
  Napi::Value field(const char* name) const {
    if (fields_.IsEmpty()) fail(std::string("the argument ") + name + " is read by name, but this binding takes a list");
    return fields_.Get(name);
  }
  size_t choice_in(const Napi::Value& v, const char* name, std::initializer_list<const char*> choices) const {
    std::string expected;  // "'a', 'b' or 'c'"
    size_t k = 0;
    for (const char* c : choices) {
      expected += k == 0 ? "'" : k + 1 == choices.size() ? " or '" : ", '";
      expected += std::string(c) + "'";
      ++k;
    }
    if (!v.IsString()) fail_arg(name, expected, type_of(v));
    const std::string s = v.As<Napi::String>().Utf8Value();
    k = 0;
    for (const char* c : choices) {
      if (s == c) return k;
      ++k;
    }
    fail_arg(name, expected, "'" + s + "'");
  }
  int64_t size_in(const Napi::Value& v, const char* name) const {
    const double d = number_in(v, name);
    if (!is_safe_integer(d) || d < 0) fail_arg(name, "a non-negative integer below 2^53", format_number(d));
    return static_cast<int64_t>(d);
  }
  int64_t integer_in(const Napi::Value& v, const char* name) const {
    const double d = number_in(v, name);
    if (!is_safe_integer(d)) fail_arg(name, "an integer of magnitude below 2^53", format_number(d));
    return static_cast<int64_t>(d);
  }
  double number_in(const Napi::Value& v, const char* name) const {
    if (!v.IsNumber()) fail_arg(name, "a number", type_of(v));
    return v.As<Napi::Number>().DoubleValue();
  }
  bool flag_in(const Napi::Value& v, const char* name) const {
    if (!v.IsBoolean()) fail_arg(name, "a boolean", type_of(v));
    return v.As<Napi::Boolean>().Value();
  }
  std::vector<int64_t> sizes_in(const Napi::Value& v, const char* name) const {
    return integers(array(v, name, "an array of non-negative integers"), name);
  }
  std::vector<bool> flags_in(const Napi::Value& v, const char* name) const {
    auto a = array(v, name, "an array of booleans");
    std::vector<bool> out(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value e = a[k];
      if (!e.IsBoolean()) fail_arg(name, "an array of booleans", "an element that is " + type_of(e));
      out[k] = e.As<Napi::Boolean>().Value();
    }
    return out;
  }
  std::vector<float*> f32_list_in(const Napi::Value& v, const char* name, const std::vector<int64_t>& need) {
    auto a = array(v, name, "an array of Storages");
    if (a.Length() != need.size())
      fail_arg(name, std::to_string(need.size()) + " storages", std::to_string(a.Length()));
    std::vector<float*> out(need.size());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      const std::string item = std::string(name) + "[" + std::to_string(k) + "]";
      out[k] = static_cast<float*>(storage_of(a[k], item.c_str(), DType::F32, need[k], 0));
    }
    return out;
  }
  Napi::Array array(const Napi::Value& v, const char* name, const char* expected) const {
    if (!v.IsArray()) fail_arg(name, expected, type_of(v));
    return v.As<Napi::Array>();
  }
  // The elements of a, each a non-negative integer below 2^53. The array may have holes
  // and accessors (element reads can run JS code; Args pins the storages resolved so far).
  std::vector<int64_t> integers(const Napi::Array& a, const char* name) const {
    std::vector<int64_t> out(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value v = a[k];
      if (!v.IsNumber()) fail_arg(name, "an array of non-negative integers", "an element that is " + type_of(v));
      const double d = v.As<Napi::Number>().DoubleValue();
      if (!is_safe_integer(d) || d < 0)
        fail_arg(name, "an array of non-negative integers below 2^53", "element " + std::to_string(k) + " = " + format_number(d));
      out[k] = static_cast<int64_t>(d);
    }
    return out;
  }
  Storage& live_storage(const Napi::Value& v, const char* name) {
    pinned_.reserve(pinned_.size() + 1);  // so that recording the pin cannot fail
    Storage& s = pin_storage(info_.Env(), v, op_, name);
    pinned_.push_back(&s);
    return s;
  }
  // A live storage of this dtype on the device of the storages before it, pinned.
  Storage& checked_storage(const Napi::Value& v, const char* name, DType dtype) {
    return on_call_device(live_storage(v, name), name, dtype);
  }
  // s, checked to be of this dtype and on the device of the storages before it.
  Storage& on_call_device(Storage& s, const char* name, DType dtype) {
    if (s.dtype != dtype) fail_arg(name, std::string(dtype == DType::I64 ? "an " : "a ") + dtype_name(dtype) + " storage", dtype_name(s.dtype));
    if (seen_device_ && s.device != device_)
      fail_arg(name, std::string("a storage on ") + device_name(device_) + " like the arguments before it",
               std::string("one on ") + device_name(s.device));
    seen_device_ = true;
    device_ = s.device;
    return s;
  }
  // Element `offset` of s, which must hold offset + need elements.
  void* data_at(Storage& s, const char* name, int64_t need, int64_t offset) {
    check_holds(*this, s, name, need, offset);
    return static_cast<char*>(s.ptr) + offset * static_cast<int64_t>(dtype_size(s.dtype));
  }
  void* storage_of(const Napi::Value& v, const char* name, DType dtype, int64_t need, int64_t offset) {
    return data_at(checked_storage(v, name, dtype), name, need, offset);
  }

  static std::string type_of(const Napi::Value& v) { return value_kind(v.Env(), v); }

  const Napi::CallbackInfo& info_;
  const char* op_;
  Napi::Object fields_;  // the named fields, empty for a binding that takes a list
  std::vector<const Storage*> pinned_;
  Device device_ = Device::CPU;
  bool seen_device_ = false;
};

// A binding's body with every C++ exception turned into an Error whose message starts with
// "<op>:". Kernels and their argument checks throw repmlp::Error; node-addon-api throws
// Napi::Error for an exception already pending in JS (a getter that threw), which must go on
// unchanged. Anything else (std::bad_alloc from a vector or string growing, std::length_error
// for a size no vector can hold, std::system_error from starting threads) would otherwise
// reach JS without the op's name.
using Binding = Napi::Value (*)(const Napi::CallbackInfo&);
inline Napi::Value guarded(const char* op, Binding fn, const Napi::CallbackInfo& info) {
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    // Errors from below the binding (an allocator, the CUDA runtime) get the op's name too.
    const std::string prefix = std::string(op) + ":";
    if (std::string(e.what()).compare(0, prefix.size(), prefix) == 0) throw;
    throw Error(prefix + " " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(std::string(op) + ": out of host memory (a native buffer or list could not be allocated)");
  } catch (const std::length_error&) {
    throw Error(std::string(op) + ": out of host memory (a native buffer would exceed the largest possible size)");
  } catch (const std::exception& e) {
    throw Error(std::string(op) + ": " + e.what());
  } catch (...) {
    throw Error(std::string(op) + ": an unknown native exception");
  }
}

// Registers a binding under a JS name, wrapped by guarded().
#define REPMLP_EXPORT_AS(exports, name, fn)                                                               \
  (exports).Set(name, Napi::Function::New(                                                               \
                          (exports).Env(),                                                               \
                          [](const Napi::CallbackInfo& info) { return ::repmlp::guarded(name, fn, info); }, \
                          name))
// Registers a binding under its own name.
#define REPMLP_EXPORT(exports, fn) REPMLP_EXPORT_AS(exports, #fn, fn)

}  // namespace repmlp

// infer_run: an inference program, a list of kernel calls over storages (the weights and a
// buffer arena of lib/infer), checked and run in one binding call, so that a forward pass
// crosses Node-API once. infer_schema lists each step kind and its fields.
//
// The program is a Float64Array of steps, each its kind's code followed by one value per
// field, in the order infer_schema gives: numbers as they are, booleans 0 or 1, a storage as
// its index into the call's `storages` (-1 for null). A step's fields are read by the same
// names, through the same checks, as the bindings of its kernel read them (gemm_args.h,
// unpartition_gate_args.h), every one on every run; all steps are checked before the first
// runs, so a bad program runs nothing. Every storage of the list must be named by a step.
#include <charconv>
#include <chrono>
#include <cstring>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "../args.h"
#include "../device.h"
#include "copy.h"
#include "ffn.h"
#include "gemm_args.h"
#include "reduce.h"
#include "unpartition_gate_args.h"

namespace repmlp {
namespace {

// The fields of a step kind, in program order.
struct StepKind {
  const char* name;
  const char* const* fields;
  size_t count;
};

constexpr const char* kRowSumFields[] = {"out", "offOut", "inp", "offInp", "rows", "cols"};
constexpr const char* kCopyFields[] = {"out", "offOut", "inp", "offInp", "n0", "n1", "n2", "n3", "n4", "n5",
                                       "s0", "s1", "s2", "s3", "s4", "s5"};
constexpr const char* kGateFields[] = {"out", "offOut", "y", "offY", "gate", "offGate", "residual", "offResidual",
                                       "N", "C", "Hp", "h", "Wp", "w"};
constexpr const char* kFfnFields[] = {"out", "offOut", "y",  "offY", "w1", "offW1", "b1", "offB1",
                                      "w2",  "offW2",  "b2", "offB2", "N", "C",     "Ch", "HW"};

template <size_t N>
constexpr StepKind kind(const char* name, const char* const (&fields)[N]) {
  static_assert(N <= 64, "a step reader tracks at most 64 fields");
  return {name, fields, N};
}

// Codes are positions in this list.
const StepKind kKinds[] = {kind("gemm", kGemmFusedFields), kind("rowsum", kRowSumFields), kind("copy", kCopyFields),
                           kind("gate", kGateFields), kind("ffn", kFfnFields)};
constexpr size_t kGemm = 0, kRowSum = 1, kCopy = 2, kGate = 3, kFfn = 4;

// One step's fields, read by name with Args' named accessors; errors read
// "infer_run: step <k> (<kind>): expected ... for <field> but received ...".
class StepReader {
 public:
  StepReader(const double* values, const StepKind& kind, size_t index, const std::vector<const Storage*>& storages,
             std::vector<bool>& used)
      : v_(values), kind_(kind), storages_(storages), used_(used) {
    // "infer_run: step <index> (<kind>)", built without printf: a reader is made for every
    // step of every run
    char* p = op_;
    const auto put = [&](const char* s) {
      while (*s && p < op_ + sizeof op_ - 1) *p++ = *s++;
    };
    put("infer_run: step ");
    p = std::to_chars(p, op_ + sizeof op_ - 1, index).ptr;
    put(" (");
    put(kind.name);
    put(")");
    *p = '\0';
  }

  int64_t size(const char* name) const {
    const double d = value(name);
    if (!is_safe_integer(d) || d < 0) fail_arg(name, "a non-negative integer below 2^53", format_number(d));
    return static_cast<int64_t>(d);
  }
  int64_t integer(const char* name) const {
    const double d = value(name);
    if (!is_safe_integer(d)) fail_arg(name, "an integer of magnitude below 2^53", format_number(d));
    return static_cast<int64_t>(d);
  }
  double number(const char* name) const { return value(name); }
  bool flag(const char* name) const {
    const double d = value(name);
    if (d != 0 && d != 1) fail_arg(name, "0 or 1 (a boolean)", format_number(d));
    return d == 1;
  }
  bool is_null(const char* name) const { return value(name) == -1; }
  // Storage `name` (its index), holding at least offset + need elements.
  float* f32(const char* name, int64_t need, int64_t offset) const {
    const double d = value(name);
    if (!is_safe_integer(d) || d < 0 || d >= static_cast<double>(storages_.size()))
      fail_arg(name, "the index of one of the " + std::to_string(storages_.size()) + " storages", format_number(d));
    const Storage& s = *storages_[static_cast<size_t>(d)];
    used_[static_cast<size_t>(d)] = true;
    check_holds(*this, s, name, need, offset);
    return static_cast<float*>(s.ptr) + offset;
  }

  int64_t product(std::initializer_list<int64_t> sizes) const { return checked_product(op_, sizes); }
  int64_t product(const std::vector<int64_t>& sizes) const { return checked_product(op_, sizes); }
  int64_t add(int64_t a, int64_t b) const { return checked_add(op_, a, b); }
  int64_t mul(int64_t a, int64_t b) const { return checked_mul(op_, a, b); }
  int64_t extent(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) const {
    return checked_extent(op_, shape, strides);
  }
  template <typename T>
  void check_disjoint(const char* out_name, const T* out, int64_t n, const char* inp_name, const T* inp, int64_t m) const {
    if (ranges_overlap(out, n, inp, m))
      fail_arg(out_name, std::string("an output that does not overlap ") + inp_name, "overlapping ranges of one storage");
  }
  [[noreturn]] void fail_arg(const char* name, const std::string& expected, const std::string& received) const {
    throw Error(std::string(op_) + ": expected " + expected + " for " + name + " but received " + received);
  }
  // Every field of the kind was read (the kind's list and its reader agree).
  void check_all_read() const {
    for (size_t i = 0; i < kind_.count; ++i)
      if (!(read_ >> i & 1)) throw Error(std::string(op_) + ": field " + kind_.fields[i] + " was never read (an internal error)");
  }

 private:
  // The field's value; the search starts after the field read last, as readers mostly read
  // in the list's order.
  double value(const char* name) const {
    for (size_t n = 0; n < kind_.count; ++n) {
      const size_t i = (cursor_ + n) % kind_.count;
      if (kind_.fields[i] == name || std::strcmp(kind_.fields[i], name) == 0) {
        read_ |= uint64_t{1} << i;
        cursor_ = i + 1;
        return v_[i];
      }
    }
    throw Error(std::string(op_) + ": reads a field " + name + " that its kind does not list (an internal error)");
  }

  const double* v_;
  const StepKind& kind_;
  const std::vector<const Storage*>& storages_;
  std::vector<bool>& used_;
  mutable uint64_t read_ = 0;  // bit i: field i was read
  mutable size_t cursor_ = 0;
  char op_[64];
};

using Run = std::function<void()>;

Run gemm_step(const StepReader& r, Args& a) {
  int64_t extC;
  const GemmFused f = read_gemm(r, true, &extC);
  if (extC == 0) return nullptr;
  return [f, &a] { REPMLP_DISPATCH(a, gemm_fused, f); };
}

// out (rows) = the sums of inp's rows (rows, cols).
Run rowsum_step(const StepReader& r, Args& a) {
  const int64_t off_out = r.size("offOut"), off_inp = r.size("offInp"), rows = r.size("rows"), cols = r.size("cols");
  const int64_t n = r.product({rows, cols});
  float* out = r.f32("out", rows, off_out);
  const float* inp = r.f32("inp", n, off_inp);
  r.check_disjoint("out", out, rows, "inp", inp, n);
  if (rows == 0) return nullptr;
  if (n == 0) return [out, rows, &a] { a.zero(out, rows); };
  const std::vector<int64_t> in_shape{rows, cols}, out_shape{rows, 1};
  return [=, &a] { REPMLP_DISPATCH(a, sum_to, out, inp, in_shape, out_shape); };
}

// out (n0 * ... * n5) dense = the view of inp with sizes n and strides s.
Run copy_step(const StepReader& r, Args& a) {
  const int64_t off_out = r.size("offOut"), off_inp = r.size("offInp");
  static const char* const ns[] = {"n0", "n1", "n2", "n3", "n4", "n5"};
  static const char* const ss[] = {"s0", "s1", "s2", "s3", "s4", "s5"};
  std::vector<int64_t> shape(6), strides(6);
  for (int d = 0; d < 6; ++d) shape[d] = r.size(ns[d]), strides[d] = r.size(ss[d]);
  const int64_t n = r.product(shape), ext = r.extent(shape, strides);
  float* out = r.f32("out", n, off_out);
  const float* inp = r.f32("inp", ext, off_inp);
  r.check_disjoint("out", out, n, "inp", inp, ext);
  if (n == 0) return nullptr;
  return [=, &a] { REPMLP_DISPATCH(a, strided_copy_f32, out, inp, shape, strides); };
}

Run gate_step(const StepReader& r, Args& a) {
  const GateForward g = read_gate_forward<true>(r);
  if (g.numel == 0) return nullptr;
  return [g, &a] { REPMLP_DISPATCH(a, unpartition_gate_forward, g.out, g.y, g.gate, g.residual, g.shape); };
}

// out (N, C, HW) = y + W2 @ gelu(W1 @ y + b1) + b2 (ops/ffn.h), W1 (Ch, C) and W2 (C, Ch) packed.
Run ffn_step(const StepReader& r, Args& a) {
  FfnForward f{};
  const int64_t off_out = r.size("offOut"), off_y = r.size("offY"), off_w1 = r.size("offW1"), off_b1 = r.size("offB1"),
                off_w2 = r.size("offW2"), off_b2 = r.size("offB2");
  f.N = r.size("N"), f.C = r.size("C"), f.Ch = r.size("Ch"), f.HW = r.size("HW");
  const int64_t numel = r.product({f.N, f.C, f.HW});
  const int64_t n_w1 = r.mul(gemm_packed_numel(false, f.Ch, 1), f.C), n_w2 = r.mul(gemm_packed_numel(false, f.C, 1), f.Ch);
  f.out = r.f32("out", numel, off_out);
  f.y = r.f32("y", numel, off_y);
  f.w1 = r.f32("w1", n_w1, off_w1);
  f.b1 = r.f32("b1", f.Ch, off_b1);
  f.w2 = r.f32("w2", n_w2, off_w2);
  f.b2 = r.f32("b2", f.C, off_b2);
  r.check_disjoint("out", f.out, numel, "y", f.y, numel);
  r.check_disjoint("out", f.out, numel, "w1", f.w1, n_w1);
  r.check_disjoint("out", f.out, numel, "b1", f.b1, f.Ch);
  r.check_disjoint("out", f.out, numel, "w2", f.w2, n_w2);
  r.check_disjoint("out", f.out, numel, "b2", f.b2, f.C);
  if (numel == 0) return nullptr;
  return [f, &a] { REPMLP_DISPATCH(a, ffn_forward, f); };
}

Run parse_step(size_t code, const StepReader& r, Args& a) {
  switch (code) {
    case kGemm: return gemm_step(r, a);
    case kRowSum: return rowsum_step(r, a);
    case kCopy: return copy_step(r, a);
    case kGate: return gate_step(r, a);
    default: return ffn_step(r, a);
  }
}

// Runs the steps in order; with `seconds`, each step's wall time into seconds[k] (on CUDA the
// device is synchronized after every step, so a step's time is its kernels', not its launch's).
void run_steps(const std::vector<Run>& steps, Args& a, double* seconds) {
  using Clock = std::chrono::steady_clock;
  for (size_t k = 0; k < steps.size(); ++k) {
    const Clock::time_point t0 = seconds ? Clock::now() : Clock::time_point{};
    if (steps[k]) steps[k]();
    if (!seconds) continue;
    if (a.device() == Device::CUDA) cuda::synchronize();
    seconds[k] = std::chrono::duration<double>(Clock::now() - t0).count();
  }
}

}  // namespace

// infer_run({program: Float64Array, storages: Storage[], stepSeconds: Float64Array | null}):
// checks every step, then runs them in order; stepSeconds (one element per step) receives
// each step's wall time, for profiles.
static Napi::Value infer_run(const Napi::CallbackInfo& info) {
  Args a(info, "infer_run", Args::named);
  const std::vector<double> program = a.f64_array("program");
  const std::vector<const Storage*> storages = a.f32_storages("storages");
  const auto [seconds, seconds_length] = a.optional_f64_out("stepSeconds");
  std::vector<Run> steps;
  std::vector<bool> used(storages.size(), false);
  for (size_t pos = 0, k = 0; pos < program.size(); ++k) {
    const double code = program[pos];
    if (!(code >= 0 && code < static_cast<double>(std::size(kKinds))) || code != static_cast<double>(static_cast<size_t>(code)))
      a.fail_arg("program", "a step kind code (0 to " + std::to_string(std::size(kKinds) - 1) + ") at element " + std::to_string(pos),
                 format_number(code));
    const StepKind& kind = kKinds[static_cast<size_t>(code)];
    if (program.size() - pos - 1 < kind.count)
      a.fail_arg("program", "the " + std::to_string(kind.count) + " fields of step " + std::to_string(k) + " (" + kind.name + ")",
                 std::to_string(program.size() - pos - 1) + " values");
    const StepReader r(program.data() + pos + 1, kind, k, storages, used);
    steps.push_back(parse_step(static_cast<size_t>(code), r, a));
    r.check_all_read();
    pos += 1 + kind.count;
  }
  for (size_t i = 0; i < used.size(); ++i)
    if (!used[i]) a.fail_arg("storages", "storages the program reads or writes, each", "storages[" + std::to_string(i) + "], which no step names");
  if (seconds && seconds_length != steps.size())
    a.fail_arg("stepSeconds", "a Float64Array of one element per step (" + std::to_string(steps.size()) + ")",
               "one of " + std::to_string(seconds_length));
  run_steps(steps, a, seconds);
  return info.Env().Undefined();
}

// infer_schema(): [{kind, fields}] in code order.
static Napi::Value infer_schema(const Napi::CallbackInfo& info) {
  Args a(info, "infer_schema", 0);
  const Napi::Env env = info.Env();
  auto out = Napi::Array::New(env, std::size(kKinds));
  for (uint32_t k = 0; k < std::size(kKinds); ++k) {
    auto fields = Napi::Array::New(env, kKinds[k].count);
    for (uint32_t i = 0; i < kKinds[k].count; ++i) fields.Set(i, Napi::String::New(env, kKinds[k].fields[i]));
    auto o = Napi::Object::New(env);
    o.Set("kind", Napi::String::New(env, kKinds[k].name));
    o.Set("fields", fields);
    out.Set(k, o);
  }
  return out;
}

void register_infer(Napi::Object exports) {
  REPMLP_EXPORT(exports, infer_run);
  REPMLP_EXPORT(exports, infer_schema);
}

}  // namespace repmlp

// The distributed bindings (lib/dist/ wraps them):
//   distInfo()                                  which engines were found, and where (nothing is initialised)
//   distInit({ engine: 'local' | 'mpi', timeoutSeconds })   joins the world; returns it
//   distWorld()                                 the world as it stands
//   distAllreduce({ buf, offset, count, op })   in place, float32 or int64; op 'sum' | 'max' | 'min'
//   distBroadcast({ buf, offset, count, root }) in place, rank root's elements to every rank
//   distBarrier()
//   distSumStart({ tensors, ns })               copies the first ns[k] elements of each float32
//                                               storage into one buffer and starts summing it over
//                                               the world; returns a handle for distSumWait
//   distSumWait({ work, tensors, ns, scale })   waits for that sum; tensors[k] = its part * scale
//   distFinalize()                              leaves the world
// Each collective is the identity on a world of one, so every call is safe in a process that
// no launcher started.
#include <napi.h>

#include <cstdlib>
#include <vector>

#include "../args.h"
#include "../device.h"
#include "../ops/scale.h"
#include "comm.h"
#ifdef REPMLP_WITH_CUDA
#include "../cuda/nccl.h"
#endif

namespace repmlp {

namespace {

Napi::Array attempts(Napi::Env env, const std::vector<dl::Attempt>& tried) {
  auto out = Napi::Array::New(env, tried.size());
  for (size_t i = 0; i < tried.size(); ++i) {
    auto t = Napi::Object::New(env);
    t.Set("path", tried[i].path);
    t.Set("error", tried[i].error);
    out.Set(static_cast<uint32_t>(i), t);
  }
  return out;
}

Napi::Value string_or_null(Napi::Env env, const std::string& s) {
  return s.empty() ? env.Null() : Napi::Value(Napi::String::New(env, s));
}

Napi::Object mpi_info(Napi::Env env) {
  const dist::MpiStatus st = dist::mpi_status();
  auto o = Napi::Object::New(env);
  o.Set("found", st.found);
  o.Set("path", string_or_null(env, st.path));
  o.Set("implementation", string_or_null(env, st.implementation));
  o.Set("version", string_or_null(env, st.version));
  o.Set("tried", attempts(env, st.tried));
  return o;
}

Napi::Object nccl_info(Napi::Env env) {
  auto o = Napi::Object::New(env);
#ifdef REPMLP_WITH_CUDA
  const cuda::NcclStatus st = cuda::nccl_status();
  o.Set("compiled", true);
  o.Set("found", st.found);
  o.Set("path", string_or_null(env, st.path));
  o.Set("version", string_or_null(env, st.version));
  o.Set("tried", attempts(env, st.tried));
#else
  o.Set("compiled", false);
  o.Set("found", false);
  o.Set("path", env.Null());
  o.Set("version", env.Null());
  o.Set("tried", Napi::Array::New(env));
#endif
  return o;
}

Napi::Object world_object(Napi::Env env, const dist::WorldInfo& w) {
  auto o = Napi::Object::New(env);
  o.Set("initialized", w.initialized);
  o.Set("finalized", w.finalized);
  o.Set("engine", w.engine);
  o.Set("rank", w.rank);
  o.Set("size", w.size);
  o.Set("localRank", w.local_rank);
  o.Set("localSize", w.local_size);
  o.Set("threadLevel", w.thread_level);
  o.Set("implementation", string_or_null(env, w.implementation));
  o.Set("library", string_or_null(env, w.library));
  o.Set("version", string_or_null(env, w.version));
  o.Set("timeoutSeconds", w.timeout_seconds);
  o.Set("cudaDevice", w.cuda_device < 0 ? env.Null() : Napi::Value(Napi::Number::New(env, w.cuda_device)));
  return o;
}

Napi::Value dist_info(const Napi::CallbackInfo& info) {
  Args a(info, "distInfo", 0);
  auto o = Napi::Object::New(info.Env());
  o.Set("mpi", mpi_info(info.Env()));
  o.Set("nccl", nccl_info(info.Env()));
  return o;
}

Napi::Value dist_init(const Napi::CallbackInfo& info) {
  Args a(info, "distInit", Args::named);
  const size_t engine = a.choice("engine", {"local", "mpi"});
  const double timeout = a.number("timeoutSeconds");
  if (!(timeout >= 0) || !std::isfinite(timeout)) a.fail_arg("timeoutSeconds", "a finite number >= 0 (0: no limit)", format_number(timeout));
  return world_object(info.Env(), engine == 0 ? dist::init_local() : dist::init_mpi(timeout));
}

Napi::Value dist_world(const Napi::CallbackInfo& info) {
  Args a(info, "distWorld", 0);
  return world_object(info.Env(), dist::world());
}

// The storage range [offset, offset + count) of field buf, float32 or int64.
struct Range {
  void* p;
  int64_t count;
  dist::Type type;
};
Range range_arg(Args& a) {
  const int64_t offset = a.size("offset"), count = a.size("count");
  DType dtype{};
  void* p = a.numbers("buf", count, offset, &dtype);
  return {p, count, dtype == DType::F32 ? dist::Type::F32 : dist::Type::I64};
}

Napi::Value dist_allreduce(const Napi::CallbackInfo& info) {
  Args a(info, "distAllreduce", Args::named);
  const Range r = range_arg(a);
  const size_t op = a.choice("op", {"sum", "max", "min"});
  dist::allreduce(a.device(), r.p, r.count, r.type, op == 0 ? dist::Op::Sum : op == 1 ? dist::Op::Max : dist::Op::Min);
  return info.Env().Undefined();
}

Napi::Value dist_broadcast(const Napi::CallbackInfo& info) {
  Args a(info, "distBroadcast", Args::named);
  const Range r = range_arg(a);
  const int64_t root = a.size("root"), size = dist::world().size;
  if (root >= size) a.fail_arg("root", "a rank below the world's size " + std::to_string(size), std::to_string(root));
  dist::broadcast(a.device(), r.p, r.count, r.type, static_cast<int>(root));
  return info.Env().Undefined();
}

Napi::Value dist_barrier(const Napi::CallbackInfo& info) {
  Args a(info, "distBarrier", 0);
  dist::barrier();
  return info.Env().Undefined();
}

// A started sum (distSumStart's handle): the buffer and the layout it was started with.
struct Work {
  std::unique_ptr<dist::PendingSum> sum;
  std::vector<int64_t> ns;
  bool waited = false;
};
constexpr napi_type_tag kWorkTag = {0x7265706d6c706469ULL, 0x73745f73756d5f77ULL};

// The tensors and sizes of a start or a wait: float32 storages, element k holding ns[k].
struct Tensors {
  std::vector<int64_t> ns;
  std::vector<float*> ptrs;
  int64_t total = 0;
};
Tensors tensors_arg(Args& a) {
  Tensors t;
  t.ns = a.sizes("ns");
  t.ptrs = a.f32_list("tensors", t.ns);
  for (int64_t n : t.ns) t.total = a.add(t.total, n);
  return t;
}

Napi::Value dist_sum_start(const Napi::CallbackInfo& info) {
  Args a(info, "distSumStart", Args::named);
  const Tensors t = tensors_arg(a);
  auto work = std::make_unique<Work>();
  work->sum = dist::make_pending_sum(a.device(), t.total);
  work->ns = t.ns;
  int64_t at = 0;
  for (size_t k = 0; k < t.ptrs.size(); ++k) {
    copy_between(a.device(), work->sum->data() + at, a.device(), t.ptrs[k], static_cast<size_t>(t.ns[k]) * 4);
    at += t.ns[k];
  }
  work->sum->start();
  auto handle = Napi::External<Work>::New(info.Env(), work.release(), [](Napi::Env, Work* w) { delete w; });
  napi_status st = napi_type_tag_object(info.Env(), handle, &kWorkTag);
  if (st != napi_ok) a.fail("could not tag the handle");
  return handle;
}

// The Work behind field `work`: a handle distSumStart returned, not waited for yet.
Work& work_arg(Args& a, napi_env env) {
  const Napi::Value v = a.value("work");
  bool ours = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &kWorkTag, &ours);
  if (!ours) a.fail_arg("work", "a handle returned by distSumStart", value_kind(env, v));
  Work& w = *v.As<Napi::External<Work>>().Data();
  if (w.waited) a.fail_arg("work", "a sum not waited for yet", "one already waited for");
  return w;
}

Napi::Value dist_sum_wait(const Napi::CallbackInfo& info) {
  Args a(info, "distSumWait", Args::named);
  Work& w = work_arg(a, info.Env());
  const Tensors t = tensors_arg(a);
  if (t.ns != w.ns) a.fail_arg("ns", "the sizes the sum was started with", "other sizes");
  if (!t.ptrs.empty() && a.device() != w.sum->device())
    a.fail_arg("tensors", std::string("storages on ") + device_name(w.sum->device()) + ", where the sum was started",
               std::string("storages on ") + device_name(a.device()));
  a.check_distinct_lists({{"tensors", t.ptrs}}, {});
  const double scale = a.number("scale");
  w.waited = true;
  w.sum->wait();
  int64_t at = 0;
  for (size_t k = 0; k < t.ptrs.size(); ++k) {
    if (t.ns[k] > 0) REPMLP_DISPATCH(a, scale, t.ptrs[k], w.sum->data() + at, static_cast<float>(scale), 0.f, t.ns[k]);
    at += t.ns[k];
  }
  w.sum.reset();  // the buffer goes now rather than with the handle
  return info.Env().Undefined();
}

Napi::Value dist_finalize(const Napi::CallbackInfo& info) {
  Args a(info, "distFinalize", 0);
  dist::finalize();
  return info.Env().Undefined();
}

}  // namespace

void register_dist(Napi::Object exports) {
  REPMLP_EXPORT_AS(exports, "distInfo", dist_info);
  REPMLP_EXPORT_AS(exports, "distInit", dist_init);
  REPMLP_EXPORT_AS(exports, "distWorld", dist_world);
  REPMLP_EXPORT_AS(exports, "distAllreduce", dist_allreduce);
  REPMLP_EXPORT_AS(exports, "distBroadcast", dist_broadcast);
  REPMLP_EXPORT_AS(exports, "distBarrier", dist_barrier);
  REPMLP_EXPORT_AS(exports, "distSumStart", dist_sum_start);
  REPMLP_EXPORT_AS(exports, "distSumWait", dist_sum_wait);
  REPMLP_EXPORT_AS(exports, "distFinalize", dist_finalize);
}

}  // namespace repmlp

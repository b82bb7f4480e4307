// The NCCL loader and the world's communicator (see nccl.h).
#include "nccl.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "../common.h"

namespace repmlp::cuda {

namespace {

// ---- the ABI of nccl.h (NCCL 2) ----
struct ncclComm;
typedef ncclComm* ncclComm_t;
struct ncclUniqueId {
  char internal[128];  // NCCL_UNIQUE_ID_BYTES
};
typedef int ncclResult_t;  // 0 = ncclSuccess, 7 = ncclInProgress
constexpr ncclResult_t kNcclSuccess = 0, kNcclInProgress = 7;
// ncclDataType_t and ncclRedOp_t values
constexpr int kNcclUint8 = 1, kNcclInt64 = 4, kNcclFloat32 = 7, kNcclFloat64 = 8;
constexpr int kNcclSum = 0, kNcclMax = 2, kNcclMin = 3;

struct NcclApi {
  ncclResult_t (*get_version)(int*);
  ncclResult_t (*get_unique_id)(ncclUniqueId*);
  ncclResult_t (*comm_init_rank)(ncclComm_t*, int, ncclUniqueId, int);
  ncclResult_t (*comm_destroy)(ncclComm_t);
  ncclResult_t (*comm_get_async_error)(ncclComm_t, ncclResult_t*);
  const char* (*get_error_string)(ncclResult_t);
  ncclResult_t (*all_reduce)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*broadcast)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t);
};

struct Loaded {
  NcclStatus status;
  NcclApi api{};
};

std::mutex g_mutex;
Loaded g_loaded;            // guarded by g_mutex; never unloaded once found
ncclComm_t g_comm = nullptr;  // the world's communicator, made at the first collective

template <typename F>
void resolve(void* lib, const char* name, F* fn, std::string* missing) {
  void* p = dlsym(lib, name);
  if (!p && missing->empty()) *missing = name;
  *fn = reinterpret_cast<F>(p);
}

bool resolve_api(void* lib, NcclApi* a, std::string* missing) {
  resolve(lib, "ncclGetVersion", &a->get_version, missing);
  resolve(lib, "ncclGetUniqueId", &a->get_unique_id, missing);
  resolve(lib, "ncclCommInitRank", &a->comm_init_rank, missing);
  resolve(lib, "ncclCommDestroy", &a->comm_destroy, missing);
  resolve(lib, "ncclCommGetAsyncError", &a->comm_get_async_error, missing);
  resolve(lib, "ncclGetErrorString", &a->get_error_string, missing);
  resolve(lib, "ncclAllReduce", &a->all_reduce, missing);
  resolve(lib, "ncclBroadcast", &a->broadcast, missing);
  return missing->empty();
}

// NCCL_VERSION_CODE: major * 1000 + minor * 100 + patch up to 2.8, major * 10000 + ... after.
std::string version_of(int v) {
  const int major = v >= 10000 ? v / 10000 : v / 1000, minor = v >= 10000 ? v / 100 % 100 : v / 100 % 10;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(v % 100);
}

void search(Loaded* out) {
  std::vector<dl::Attempt> note;
  const std::vector<std::string> folders = dl::cuda_folders({"nvidia/nccl/lib"}, &note);
  NcclApi api{};
  const dl::Plan plan{"REPMLP_NCCL_PATH", {"libnccl.so.2", "libnccl.so"}, folders, RTLD_NOW | RTLD_LOCAL,
                      [&](void* lib, std::string* why) {
                        std::string missing;
                        api = NcclApi{};
                        if (resolve_api(lib, &api, &missing)) return true;
                        *why = "it does not export " + missing + " (NCCL 2.4 or newer is needed)";
                        return false;
                      }};
  dl::Found found;
  std::vector<dl::Attempt> tried;
  out->status.found = dl::search(plan, &found, &tried);
  if (out->status.found) {
    out->api = api;
    out->status.path = dl::file_of(reinterpret_cast<void*>(api.get_version), found.path);
    int v = 0;
    if (api.get_version(&v) == kNcclSuccess && v > 0) out->status.version = version_of(v);
  } else {
    tried.insert(tried.end(), note.begin(), note.end());
  }
  out->status.tried = std::move(tried);
}

const Loaded& ensure_loaded() {
  if (!g_loaded.status.found) {
    Loaded fresh;
    search(&fresh);
    g_loaded = std::move(fresh);
  }
  return g_loaded;
}

// The loaded entry points; the caller holds g_mutex.
const NcclApi& api_locked() {
  const Loaded& l = ensure_loaded();
  if (!l.status.found) {
    std::string msg = "NCCL (for collectives over CUDA tensors) was not found; tried, in order:";
    for (const auto& t : l.status.tried) msg += "\n  " + t.path + ": " + t.error;
    msg +=
        "\nInstall it with `pip install nvidia-nccl-cu12` (or nvidia-nccl-cu13), or point REPMLP_NCCL_PATH at "
        "libnccl.so.2 (or its folder).";
    throw Error(msg);
  }
  return l.api;
}

void nccl_check(const NcclApi& a, ncclResult_t r, const char* what) {
  if (r == kNcclSuccess) return;
  throw Error(std::string(what) + ": " + (a.get_error_string ? a.get_error_string(r) : "NCCL error") + " (" + std::to_string(r) + ")");
}

// The world's communicator, made on the first call (collective: every rank gets here at
// the same collective); the caller holds g_mutex.
ncclComm_t comm_locked(const NcclApi& a, const NcclWorld& w) {
  if (g_comm) return g_comm;
  ncclUniqueId id{};
  if (w.rank == 0) nccl_check(a, a.get_unique_id(&id), "ncclGetUniqueId");
  w.share_id(&id, sizeof id);
  ncclComm_t c = nullptr;
  nccl_check(a, a.comm_init_rank(&c, w.size, id, w.rank), "ncclCommInitRank");
  g_comm = c;
  return c;
}

int nccl_type(dist::Type t) {
  switch (t) {
    case dist::Type::F32: return kNcclFloat32;
    case dist::Type::F64: return kNcclFloat64;
    case dist::Type::I64: return kNcclInt64;
    case dist::Type::Byte: return kNcclUint8;
  }
  return kNcclUint8;
}

int nccl_op(dist::Op op) { return op == dist::Op::Max ? kNcclMax : op == dist::Op::Min ? kNcclMin : kNcclSum; }

}  // namespace

NcclStatus nccl_status() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return ensure_loaded().status;
}

void nccl_allreduce(const NcclWorld& w, void* buf, int64_t count, dist::Type t, dist::Op op) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const NcclApi& a = api_locked();
  ncclComm_t c = comm_locked(a, w);
  nccl_check(a, a.all_reduce(buf, buf, static_cast<size_t>(count), nccl_type(t), nccl_op(op), c, nullptr), "ncclAllReduce");
}

void nccl_broadcast(const NcclWorld& w, void* buf, int64_t count, dist::Type t, int root) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const NcclApi& a = api_locked();
  ncclComm_t c = comm_locked(a, w);
  nccl_check(a, a.broadcast(buf, buf, static_cast<size_t>(count), nccl_type(t), root, c, nullptr), "ncclBroadcast");
}

bool nccl_wait_idle(double timeout_seconds) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const cudaError_t e = cudaStreamQuery(nullptr);
    if (e == cudaSuccess) return true;
    if (e != cudaErrorNotReady) {
      cudaGetLastError();
      throw Error(std::string("waiting for the device: ") + cudaGetErrorString(e));
    }
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      if (g_comm) {
        ncclResult_t async = kNcclSuccess;
        const NcclApi& a = g_loaded.api;
        nccl_check(a, a.comm_get_async_error(g_comm, &async), "ncclCommGetAsyncError");
        if (async != kNcclInProgress) nccl_check(a, async, "an NCCL collective failed");
      }
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (timeout_seconds > 0 && waited > timeout_seconds) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void nccl_destroy() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_comm) return;
  g_loaded.api.comm_destroy(g_comm);
  g_comm = nullptr;
}

}  // namespace repmlp::cuda

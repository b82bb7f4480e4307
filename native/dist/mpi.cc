// The MPI loader and its two ABIs (see mpi.h).
#include "mpi.h"

#include <dlfcn.h>

#include <mutex>
#include <type_traits>

#include "../common.h"

namespace repmlp::dist {

namespace {

// The handle types of each ABI.
struct OpenMpiAbi {
  using Comm = void*;
  using Datatype = void*;
  using Op = void*;
  using Request = void*;
  using Info = void*;
  using Errhandler = void*;
  static constexpr MpiImpl impl = MpiImpl::OpenMpi;
};
struct MpichAbi {
  using Comm = int;
  using Datatype = int;
  using Op = int;
  using Request = int;
  using Info = int;
  using Errhandler = int;
  static constexpr MpiImpl impl = MpiImpl::Mpich;
};
static_assert(sizeof(void*) <= sizeof(Request::bytes) && sizeof(int) <= sizeof(Request::bytes));

// The C signatures of the calls used, over an ABI's handles. MPI_Status is only ever passed
// through (to a buffer large enough for either ABI's).
template <typename A>
struct Calls {
  using Comm = typename A::Comm;
  using Datatype = typename A::Datatype;
  int (*initialized)(int*);
  int (*init_thread)(int*, char***, int, int*);
  int (*comm_rank)(Comm, int*);
  int (*comm_size)(Comm, int*);
  int (*comm_split_type)(Comm, int, int, typename A::Info, Comm*);
  int (*comm_free)(Comm*);
  int (*comm_set_errhandler)(Comm, typename A::Errhandler);
  int (*ireduce_scatter_block)(const void*, void*, int, Datatype, typename A::Op, Comm, typename A::Request*);
  int (*iallgather)(const void*, int, Datatype, void*, int, Datatype, Comm, typename A::Request*);
  int (*ibcast)(void*, int, Datatype, int, Comm, typename A::Request*);
  int (*ibarrier)(Comm, typename A::Request*);
  int (*test)(typename A::Request*, int*, void*);
  int (*finalized)(int*);
  int (*finalize)();
  int (*abort)(Comm, int);
  int (*error_string)(int, char*, int*);
};

// The predefined handles an ABI gives: MPI_COMM_WORLD, the types (in the order of Type),
// the reductions (in the order of Op), MPI_INFO_NULL, MPI_ERRORS_RETURN and the value of
// MPI_COMM_TYPE_SHARED.
template <typename A>
struct Handles {
  typename A::Comm world;
  typename A::Datatype types[4];
  typename A::Op ops[3];
  typename A::Info info_null;
  typename A::Errhandler errors_return;
  int comm_type_shared;
};

// Resolves name in lib into *fn; records the first missing name.
template <typename F>
void resolve(void* lib, const char* name, F* fn, std::string* missing) {
  void* p = dlsym(lib, name);
  if (!p && missing->empty()) *missing = name;
  *fn = reinterpret_cast<F>(p);
}

template <typename A>
bool resolve_calls(void* lib, Calls<A>* c, std::string* missing) {
  resolve(lib, "MPI_Initialized", &c->initialized, missing);
  resolve(lib, "MPI_Init_thread", &c->init_thread, missing);
  resolve(lib, "MPI_Comm_rank", &c->comm_rank, missing);
  resolve(lib, "MPI_Comm_size", &c->comm_size, missing);
  resolve(lib, "MPI_Comm_split_type", &c->comm_split_type, missing);
  resolve(lib, "MPI_Comm_free", &c->comm_free, missing);
  resolve(lib, "MPI_Comm_set_errhandler", &c->comm_set_errhandler, missing);
  resolve(lib, "MPI_Ireduce_scatter_block", &c->ireduce_scatter_block, missing);
  resolve(lib, "MPI_Iallgather", &c->iallgather, missing);
  resolve(lib, "MPI_Ibcast", &c->ibcast, missing);
  resolve(lib, "MPI_Ibarrier", &c->ibarrier, missing);
  resolve(lib, "MPI_Test", &c->test, missing);
  resolve(lib, "MPI_Finalized", &c->finalized, missing);
  resolve(lib, "MPI_Finalize", &c->finalize, missing);
  resolve(lib, "MPI_Abort", &c->abort, missing);
  resolve(lib, "MPI_Error_string", &c->error_string, missing);
  return missing->empty();
}

// Open MPI's handles: the addresses of its exported globals.
bool open_mpi_handles(void* lib, Handles<OpenMpiAbi>* h, std::string* missing) {
  resolve(lib, "ompi_mpi_comm_world", &h->world, missing);
  const char* types[] = {"ompi_mpi_float", "ompi_mpi_double", "ompi_mpi_int64_t", "ompi_mpi_byte"};
  for (int i = 0; i < 4; ++i) resolve(lib, types[i], &h->types[i], missing);
  const char* ops[] = {"ompi_mpi_op_sum", "ompi_mpi_op_max", "ompi_mpi_op_min"};
  for (int i = 0; i < 3; ++i) resolve(lib, ops[i], &h->ops[i], missing);
  resolve(lib, "ompi_mpi_info_null", &h->info_null, missing);
  resolve(lib, "ompi_mpi_errors_return", &h->errors_return, missing);
  h->comm_type_shared = 0;
  return missing->empty();
}

// MPICH's handles: the constants of its mpi.h (the MPICH ABI, shared by its derivatives).
constexpr Handles<MpichAbi> kMpichHandles = {
    0x44000000,                                        // MPI_COMM_WORLD
    {0x4c00040a, 0x4c00080b, 0x4c00083a, 0x4c00010d},  // MPI_FLOAT, MPI_DOUBLE, MPI_INT64_T, MPI_BYTE
    {0x58000003, 0x58000001, 0x58000002},              // MPI_SUM, MPI_MAX, MPI_MIN
    0x1c000000,                                        // MPI_INFO_NULL
    0x54000001,                                        // MPI_ERRORS_RETURN
    1,                                                 // MPI_COMM_TYPE_SHARED
};

template <typename A>
class MpiOf final : public Mpi {
 public:
  MpiOf(const Calls<A>& c, const Handles<A>& h) : c_(c), h_(h) {}
  MpiImpl impl() const override { return A::impl; }

  int init(int required, int* provided) override {
    int done = 0;
    if (int e = c_.initialized(&done)) return e;
    if (done) {
      *provided = required;
      return 0;
    }
    return c_.init_thread(nullptr, nullptr, required, provided);
  }
  int world(int* rank, int* size) override {
    if (int e = c_.comm_rank(h_.world, rank)) return e;
    return c_.comm_size(h_.world, size);
  }
  int node(int* rank, int* size) override {
    typename A::Comm local{};
    if (int e = c_.comm_split_type(h_.world, h_.comm_type_shared, 0, h_.info_null, &local)) return e;
    int e = c_.comm_rank(local, rank);
    if (!e) e = c_.comm_size(local, size);
    c_.comm_free(&local);
    return e;
  }
  int errors_return() override { return c_.comm_set_errhandler(h_.world, h_.errors_return); }
  int reduce_scatter_block(const void* send, void* recv, int count, Type t, Op op, Request* r) override {
    return c_.ireduce_scatter_block(send, recv, count, type(t), h_.ops[static_cast<int>(op)], h_.world, req(r));
  }
  int allgather(const void* send, void* recv, int count, Type t, Request* r) override {
    return c_.iallgather(send, count, type(t), recv, count, type(t), h_.world, req(r));
  }
  int bcast(void* buf, int count, Type t, int root, Request* r) override {
    return c_.ibcast(buf, count, type(t), root, h_.world, req(r));
  }
  int barrier(Request* r) override { return c_.ibarrier(h_.world, req(r)); }
  int test(Request* r, int* done) override {
    alignas(16) unsigned char status[64] = {};  // either ABI's MPI_Status (24 or 20 bytes)
    return c_.test(req(r), done, status);
  }
  int finalize() override {
    int done = 0;
    if (int e = c_.finalized(&done)) return e;
    return done ? 0 : c_.finalize();
  }
  void abort(int code) override { c_.abort(h_.world, code); }
  std::string what(int code) override {
    char buf[4096] = {};
    int len = 0;
    if (c_.error_string(code, buf, &len) != 0 || len <= 0) return "MPI error " + std::to_string(code);
    return std::string(buf, static_cast<size_t>(len < 4095 ? len : 4095));
  }

 private:
  typename A::Datatype type(Type t) const { return h_.types[static_cast<int>(t)]; }
  static typename A::Request* req(Request* r) { return reinterpret_cast<typename A::Request*>(r->bytes); }
  Calls<A> c_;
  Handles<A> h_;
};

struct Loaded {
  MpiStatus status;
  std::unique_ptr<Mpi> mpi;
};

std::mutex g_mutex;
Loaded g_loaded;  // guarded by g_mutex; never unloaded once found

// The first line of MPI_Get_library_version (callable before MPI_Init), spaces collapsed.
std::string library_version(void* lib) {
  int (*get)(char*, int*) = nullptr;
  std::string missing;
  resolve(lib, "MPI_Get_library_version", &get, &missing);
  if (!get) return "";
  std::string buf(16384, '\0');  // MPI_MAX_LIBRARY_VERSION_STRING: 256 (Open MPI), 8192 (MPICH)
  int len = 0;
  if (get(&buf[0], &len) != 0 || len <= 0) return "";
  buf.resize(static_cast<size_t>(len < 16383 ? len : 16383));
  std::string line;
  for (char ch : buf.substr(0, buf.find('\n'))) {
    if (ch == '\0') break;
    const bool space = static_cast<unsigned char>(ch) < 0x20 || ch == ' ';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line += space ? ' ' : ch;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

// Takes lib when it is an MPI of a known ABI with every call: fills *out.
bool accept(void* lib, Loaded* out, std::string* why) {
  std::string missing;
  const std::string version = library_version(lib);
  if (dlsym(lib, "ompi_mpi_comm_world")) {
    Calls<OpenMpiAbi> c{};
    Handles<OpenMpiAbi> h{};
    if (!resolve_calls(lib, &c, &missing) || !open_mpi_handles(lib, &h, &missing)) {
      *why = "this Open MPI does not export " + missing + " (MPI 3.0 or newer is needed)";
      return false;
    }
    out->mpi = std::make_unique<MpiOf<OpenMpiAbi>>(c, h);
    out->status.implementation = "Open MPI";
  } else if (version.find("MPICH") != std::string::npos || version.find("Intel(R) MPI") != std::string::npos) {
    Calls<MpichAbi> c{};
    if (!resolve_calls(lib, &c, &missing)) {
      *why = "this MPICH does not export " + missing + " (MPI 3.0 or newer is needed)";
      return false;
    }
    out->mpi = std::make_unique<MpiOf<MpichAbi>>(c, kMpichHandles);
    out->status.implementation = "MPICH";
  } else {
    *why = version.empty() ? "it is not an MPI library (no MPI_Get_library_version)"
                           : "its ABI is neither Open MPI's nor MPICH's (" + version + ")";
    return false;
  }
  out->status.version = version;
  return true;
}

void search(Loaded* out) {
  std::vector<std::string> folders;
  if (!dl::env("MPI_HOME").empty()) folders.push_back(dl::env("MPI_HOME") + "/lib");
  for (const char* d : {"/usr/lib/x86_64-linux-gnu/openmpi/lib", "/usr/lib64/openmpi/lib", "/usr/lib64/mpich/lib",
                        "/opt/openmpi/lib", "/opt/mpich/lib"})
    folders.emplace_back(d);
  Loaded candidate;
  const dl::Plan plan{"REPMLP_MPI_PATH",
                      {"libmpi.so.40", "libmpi.so.12", "libmpich.so.12", "libmpi.so"},
                      folders,
                      RTLD_NOW | RTLD_GLOBAL,
                      [&](void* lib, std::string* why) {
                        candidate = Loaded{};
                        return accept(lib, &candidate, why);
                      }};
  dl::Found found;
  std::vector<dl::Attempt> tried;
  const bool ok = dl::search(plan, &found, &tried);
  if (ok) {
    *out = std::move(candidate);
    out->status.found = true;
    void* sym = dlsym(found.handle, "MPI_Init_thread");
    out->status.path = dl::file_of(sym, found.path);
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

}  // namespace

MpiStatus mpi_status() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return ensure_loaded().status;
}

Mpi& mpi() {
  std::lock_guard<std::mutex> lock(g_mutex);
  const Loaded& l = ensure_loaded();
  if (!l.status.found) {
    std::string msg = "MPI was not found; tried, in order:";
    for (const auto& t : l.status.tried) msg += "\n  " + t.path + ": " + t.error;
    msg +=
        "\nInstall Open MPI (Debian, Ubuntu: `apt-get install openmpi-bin libopenmpi-dev`; Fedora: `dnf install "
        "openmpi`) or MPICH, or point REPMLP_MPI_PATH at libmpi.so.40 / libmpi.so.12 (or its folder).";
    throw Error(msg);
  }
  return *l.mpi;
}

}  // namespace repmlp::dist

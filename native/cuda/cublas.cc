// The cuBLAS loader (see cublas.h for the search order) and the per-device handles.
#include "cublas.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <optional>
#include <type_traits>

#include "../common.h"
#include "../dl.h"
#include "../env.h"

namespace repmlp::cuda {

namespace {

// The library names tried in a folder or through the default search, newest first.
const char* const kSuffixes[] = {".so.13", ".so.12", ".so"};

struct Loaded {
  bool found = false;
  std::string path, version;
  CublasApi api{};
  std::vector<CublasAttempt> tried;
};

std::mutex g_mutex;
Loaded g_loaded;                       // guarded by g_mutex; never unloaded once found
std::vector<cublasHandle_t> g_handles;  // per device, guarded by g_mutex; never destroyed
std::vector<int> g_handle_mode;        // the math mode each handle was last set to
// REPMLP_TF32 (0 or 1), read at first use rather than by a static initializer, which could
// not throw the Error a bad value is. Guarded by g_mutex.
std::optional<bool> g_tf32_setting;
bool& g_tf32_locked() {
  if (!g_tf32_setting) g_tf32_setting = env::flag("REPMLP_TF32", false);
  return *g_tf32_setting;
}

// Resolves every entry point; on a missing one returns false with its name in *missing.
bool resolve(void* lib, CublasApi* api, std::string* missing) {
  auto sym = [&](const char* name, auto** fn) {
    dlerror();
    void* p = dlsym(lib, name);
    if (!p) {
      if (missing->empty()) *missing = name;
      return;
    }
    *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(p);
  };
  missing->clear();
  sym("cublasCreate_v2", &api->create);
  sym("cublasDestroy_v2", &api->destroy);
  sym("cublasGetVersion_v2", &api->get_version);
  sym("cublasGetProperty", &api->get_property);
  sym("cublasSetStream_v2", &api->set_stream);
  sym("cublasSetMathMode", &api->set_math_mode);
  sym("cublasSgemm_v2", &api->sgemm);
  sym("cublasSgemmStridedBatched", &api->sgemm_strided_batched);
  return missing->empty();
}

class Search {
 public:
  std::vector<CublasAttempt> tried;

  // Opens libcublasLt (lt, may be empty: then libcublas must find it itself) and then
  // libcublas (file, a path or a bare name for the default search). True on success.
  bool attempt(const std::string& lt, const std::string& file, Loaded* out) {
    std::string lt_error;
    void* lt_lib = nullptr;
    if (!lt.empty()) {
      lt_lib = dlopen(lt.c_str(), RTLD_NOW | RTLD_GLOBAL);
      if (!lt_lib) lt_error = dl::error();
    }
    void* lib = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      std::string why = dl::error();
      if (!lt_error.empty()) why += "; " + lt_error;
      tried.push_back({file, why});
      if (lt_lib) dlclose(lt_lib);
      return false;
    }
    CublasApi api{};
    std::string missing;
    if (!resolve(lib, &api, &missing)) {
      tried.push_back({file, "loaded, but it does not export " + missing + " (cuBLAS 12 or newer is needed)"});
      dlclose(lib);
      if (lt_lib) dlclose(lt_lib);
      return false;
    }
    out->found = true;
    out->api = api;
    out->path = dl::file_of(reinterpret_cast<void*>(api.create), file);  // absolute, without links
    int major = 0, minor = 0, patch = 0;
    if (api.get_property(CUBLAS_PROPERTY_MAJOR, &major) == CUBLAS_STATUS_SUCCESS &&
        api.get_property(CUBLAS_PROPERTY_MINOR, &minor) == CUBLAS_STATUS_SUCCESS &&
        api.get_property(CUBLAS_PROPERTY_PATCH, &patch) == CUBLAS_STATUS_SUCCESS)
      out->version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    return true;
  }

  // A libcublas file named explicitly: its libcublasLt is the file of the same name with
  // "Lt" inserted (same folder, same version suffix), else libcublasLt.so.<major>.
  bool file(const std::string& given, Loaded* out) {
    // dlopen searches the library path for a name without '/': anchor it to the cwd
    const std::string path = given.find('/') == std::string::npos ? "./" + given : given;
    const std::string dir = dl::dirname_of(path), base = dl::basename_of(path);
    std::string lt;
    if (base.rfind("libcublas.", 0) == 0) {
      const std::string suffix = base.substr(std::string("libcublas").size());  // ".so.12.4.5.8"
      lt = dir + "/libcublasLt" + suffix;
      if (!dl::exists(lt)) {
        const auto dot = suffix.find('.', 4);  // ".so.12" of ".so.12.4.5.8"
        lt = dir + "/libcublasLt" + suffix.substr(0, dot);
        if (!dl::exists(lt)) lt.clear();
      }
    }
    return attempt(lt, path, out);
  }

  // A folder: libcublas.so.13, .so.12, .so there, each after its libcublasLt.
  bool folder(const std::string& dir, Loaded* out) {
    if (!dl::is_dir(dir)) {
      tried.push_back({dir, "no such folder"});
      return false;
    }
    bool any = false;
    for (const char* s : kSuffixes) {
      const std::string f = dir + "/libcublas" + s;
      if (!dl::exists(f)) continue;
      any = true;
      const std::string lt = dir + "/libcublasLt" + s;
      if (attempt(dl::exists(lt) ? lt : std::string(), f, out)) return true;
    }
    if (!any) tried.push_back({dir, "no libcublas.so.13, libcublas.so.12 or libcublas.so in this folder"});
    return false;
  }

  // The default dlopen search by library name.
  bool by_name(Loaded* out) {
    for (const char* s : kSuffixes)
      if (attempt(std::string("libcublasLt") + s, std::string("libcublas") + s, out)) return true;
    return false;
  }
};

// Runs the whole search; out->tried lists every attempt that failed before the one that loaded.
void search(Loaded* out) {
  Search s;
  const bool ok = [&] {
    // 1. an explicit file or folder
    const std::string explicit_path = dl::env("REPMLP_CUBLAS_PATH");
    if (!explicit_path.empty()) {
      if (dl::is_dir(explicit_path)) {
        if (s.folder(explicit_path, out)) return true;
      } else if (dl::exists(explicit_path)) {
        if (s.file(explicit_path, out)) return true;
      } else {
        s.tried.push_back({explicit_path, "no such file or folder"});
      }
    }
    // 2. the default dlopen search
    if (s.by_name(out)) return true;
    // 3. CUDA toolkit folders, 4. pip wheel folders (those that exist are attempted; a
    // missing set is summarised after the attempts)
    std::vector<dl::Attempt> note;
    for (const auto& dir : dl::cuda_folders({"nvidia/cu13/lib", "nvidia/cublas/lib"}, &note))
      if (s.folder(dir, out)) return true;
    s.tried.insert(s.tried.end(), note.begin(), note.end());
    return false;
  }();
  out->found = ok;
  out->tried = std::move(s.tried);
}

// Loads cuBLAS unless it is loaded already; the caller holds g_mutex.
const Loaded& ensure_loaded() {
  if (!g_loaded.found) {
    Loaded fresh;
    search(&fresh);
    g_loaded = std::move(fresh);
  }
  return g_loaded;
}

}  // namespace

CublasStatus cublas_status() {
  std::lock_guard<std::mutex> lock(g_mutex);
  CublasStatus st;
  const Loaded& l = ensure_loaded();
  st.tried = l.tried;
  st.found = l.found;
  st.path = l.path;
  st.version = l.version;
  st.tf32 = g_tf32_locked();
  return st;
}

const CublasApi& cublas() {
  std::lock_guard<std::mutex> lock(g_mutex);
  const Loaded& l = ensure_loaded();
  if (!l.found) {
    std::string msg = "cuBLAS was not found; tried, in order:";
    for (const auto& t : l.tried) msg += "\n  " + t.path + ": " + t.error;
    msg +=
        "\nPoint repmlp at it with REPMLP_CUBLAS_PATH=/path/to/libcublas.so.12 (or its folder), "
        "install it with `pip install nvidia-cublas-cu12`, or install the CUDA toolkit "
        "(and set CUDA_HOME or LD_LIBRARY_PATH).";
    throw Error(msg);
  }
  return l.api;
}

cublasHandle_t cublas_handle() {
  const CublasApi& api = cublas();
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(std::string("cuBLAS: cudaGetDevice: ") + cudaGetErrorString(e));
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  if (static_cast<size_t>(dev) >= g_handles.size()) {
    g_handles.resize(dev + 1, nullptr);
    g_handle_mode.resize(dev + 1, -1);
  }
  // Handles live as long as the process: destroying them from a static destructor would
  // run after the CUDA driver may have been torn down.
  if (!g_handles[dev]) {
    cublasHandle_t h = nullptr;
    cublas_check(api.create(&h), "cublasCreate");
    const cublasStatus_t st = api.set_stream(h, nullptr);  // the default stream, as every kernel
    if (st != CUBLAS_STATUS_SUCCESS) {
      api.destroy(h);
      cublas_check(st, "cublasSetStream");
    }
    g_handles[dev] = h;
    int v = 0;  // cublasGetProperty did not say: ask the handle (major*10000 + minor*100 + patch)
    if (g_loaded.version.empty() && api.get_version(h, &v) == CUBLAS_STATUS_SUCCESS && v > 0)
      g_loaded.version = std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
  }
  const int mode = g_tf32_locked() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
  if (g_handle_mode[dev] != mode) {
    cublas_check(api.set_math_mode(g_handles[dev], static_cast<cublasMath_t>(mode)), "cublasSetMathMode");
    g_handle_mode[dev] = mode;
  }
  return g_handles[dev];
}

bool tf32_enabled() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_tf32_locked();
}

void set_tf32(bool on) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_tf32_locked() = on;  // applied to each handle before its next GEMM
}

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "an unknown cuBLAS status";
}

void cublas_check(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  std::string msg = std::string(what) + ": " + cublas_status_name(s) + " (" + std::to_string(static_cast<int>(s)) + ")";
  if (s == CUBLAS_STATUS_NOT_INITIALIZED) msg += ": the CUDA driver or device is not usable";
  if (s == CUBLAS_STATUS_ALLOC_FAILED) msg += ": out of GPU memory";
  if (s == CUBLAS_STATUS_ARCH_MISMATCH || s == CUBLAS_STATUS_NOT_SUPPORTED) msg += ": not supported on this GPU";
  throw Error(msg);
}

}  // namespace repmlp::cuda

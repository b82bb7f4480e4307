// Finding shared libraries at run time (dlopen), for the engines the package ships without:
// cuBLAS and NCCL (cuda/cublas.cc, cuda/nccl.cc) and MPI (dist/mpi.cc). Every place tried
// is recorded with why it did not load, so that `repmlp info` and the errors can list them.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace repmlp::dl {

// One attempt of a search: the file or folder (or bare name) and why it did not load.
struct Attempt {
  std::string path;
  std::string error;
};

bool is_dir(const std::string& p);
bool exists(const std::string& p);
// The message of the last dlopen / dlsym failure.
std::string error();
std::string dirname_of(const std::string& p);
std::string basename_of(const std::string& p);
// The variable's value, empty when unset.
std::string env(const char* name);
// The folders matching a glob pattern.
std::vector<std::string> glob_dirs(const std::string& pattern);
// The site-packages folders of the Python installations we can see without running Python:
// those of $VIRTUAL_ENV, $CONDA_PREFIX, every python3 on $PATH (<prefix>/bin/python3 ->
// <prefix>/lib), ~/.local, /usr/local/lib and /usr/lib (every python3* found there).
std::vector<std::string> site_packages();
// Where a CUDA library lives besides the default search: $CUDA_HOME/lib64,
// /usr/local/cuda/lib64 and $CONDA_PREFIX/lib (a toolkit), then <site-packages>/<sub> for
// each of wheel_subdirs that exists (pip wheels: "nvidia/cublas/lib", "nvidia/nccl/lib").
// When no wheel folder exists, *note receives one attempt saying so (for the caller to add
// after the folders' own attempts).
std::vector<std::string> cuda_folders(const std::vector<std::string>& wheel_subdirs, std::vector<Attempt>* note);
// The absolute path, without links, of the file that defines the symbol at addr (fallback
// when it cannot be told).
std::string file_of(const void* addr, const std::string& fallback);

// A library found by search(): its handle (kept open for the life of the process) and file.
struct Found {
  void* handle = nullptr;
  std::string path;
};

// What to look for. The first candidate that opens and that accept() takes wins:
//   1. the file or folder named by the variable env_var (when set)
//   2. each of names through the default dlopen search (LD_LIBRARY_PATH, ldconfig, ...)
//   3. each of names in each of folders
// accept(handle, why) resolves what it needs; returning false (with *why set) closes the
// library and the search goes on.
struct Plan {
  const char* env_var;
  std::vector<std::string> names;
  std::vector<std::string> folders;
  int flags;  // dlopen flags (RTLD_NOW | RTLD_LOCAL or RTLD_GLOBAL)
  std::function<bool(void* handle, std::string* why)> accept;
};

// Runs the plan; false when nothing was taken (every attempt is then in *tried).
bool search(const Plan& plan, Found* out, std::vector<Attempt>* tried);

}  // namespace repmlp::dl

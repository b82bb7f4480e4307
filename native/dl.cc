// The library search helpers of dl.h.
#include "dl.h"

#include <dlfcn.h>
#include <glob.h>
#include <sys/stat.h>

#include <cstdlib>

namespace repmlp::dl {

bool is_dir(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

std::string error() {
  const char* e = dlerror();
  return e ? e : "unknown dlopen error";
}

std::string dirname_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? std::string(".") : p.substr(0, slash);
}

std::string basename_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::vector<std::string> glob_dirs(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (glob(pattern.c_str(), GLOB_ONLYDIR, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  globfree(&g);
  return out;
}

namespace {

void push_unique(std::vector<std::string>* v, const std::string& s) {
  for (const auto& x : *v)
    if (x == s) return;
  v->push_back(s);
}

}  // namespace

std::vector<std::string> site_packages() {
  std::vector<std::string> roots;
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"})
    if (!env(var).empty()) roots.push_back(env(var) + "/lib");
  // Every python3 on PATH: <prefix>/bin/python3 has its packages under <prefix>/lib (a venv
  // that is on PATH but not activated, such as a machine image's PyTorch).
  const std::string path = env("PATH");
  for (size_t begin = 0; begin <= path.size();) {
    size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(begin, end - begin);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    const size_t slash = dir.rfind('/');
    if (slash != std::string::npos && slash > 0 && exists(dir + "/python3")) roots.push_back(dir.substr(0, slash) + "/lib");
    begin = end + 1;
  }
  if (!env("HOME").empty()) roots.push_back(env("HOME") + "/.local/lib");
  roots.push_back("/usr/local/lib");
  roots.push_back("/usr/lib");
  std::vector<std::string> out;
  for (const auto& r : roots)
    for (const char* leaf : {"site-packages", "dist-packages"})
      for (auto& d : glob_dirs(r + "/python3*/" + leaf)) push_unique(&out, d);
  return out;
}

std::vector<std::string> cuda_folders(const std::vector<std::string>& wheel_subdirs, std::vector<Attempt>* note) {
  std::vector<std::string> dirs;
  if (!env("CUDA_HOME").empty()) dirs.push_back(env("CUDA_HOME") + "/lib64");
  push_unique(&dirs, "/usr/local/cuda/lib64");
  if (!env("CONDA_PREFIX").empty()) push_unique(&dirs, env("CONDA_PREFIX") + "/lib");
  const std::vector<std::string> sites = site_packages();
  bool any_wheel = false;
  for (const auto& site : sites)
    for (const auto& sub : wheel_subdirs) {
      if (!is_dir(site + "/" + sub)) continue;
      any_wheel = true;
      push_unique(&dirs, site + "/" + sub);
    }
  if (!any_wheel) {
    std::string subs, list;
    for (const auto& s : wheel_subdirs) subs += (subs.empty() ? "<site-packages>/" : ", <site-packages>/") + s;
    for (const auto& d : sites) list += (list.empty() ? "" : ", ") + d;
    note->push_back({subs, sites.empty() ? "no site-packages folder found" : "no such folder under " + list});
  }
  return dirs;
}

std::string file_of(const void* addr, const std::string& fallback) {
  Dl_info where{};
  std::string path = dladdr(addr, &where) && where.dli_fname ? where.dli_fname : fallback;
  if (char* abs = realpath(path.c_str(), nullptr)) {
    path = abs;
    std::free(abs);
  }
  return path;
}

namespace {

// Opens `file` and hands it to accept(); true when taken.
bool attempt(const Plan& plan, const std::string& file, Found* out, std::vector<Attempt>* tried) {
  void* lib = dlopen(file.c_str(), plan.flags);
  if (!lib) {
    tried->push_back({file, error()});
    return false;
  }
  std::string why;
  if (!plan.accept(lib, &why)) {
    tried->push_back({file, "loaded, but " + why});
    dlclose(lib);
    return false;
  }
  out->handle = lib;
  out->path = file;
  return true;
}

// Each of plan.names in dir that exists.
bool folder(const Plan& plan, const std::string& dir, Found* out, std::vector<Attempt>* tried) {
  if (!is_dir(dir)) {
    tried->push_back({dir, "no such folder"});
    return false;
  }
  bool any = false;
  for (const auto& n : plan.names) {
    const std::string f = dir + "/" + n;
    if (!exists(f)) continue;
    any = true;
    if (attempt(plan, f, out, tried)) return true;
  }
  if (!any) {
    std::string list;
    for (size_t i = 0; i < plan.names.size(); ++i) list += (i == 0 ? "" : i + 1 == plan.names.size() ? " or " : ", ") + plan.names[i];
    tried->push_back({dir, "no " + list + " in this folder"});
  }
  return false;
}

}  // namespace

bool search(const Plan& plan, Found* out, std::vector<Attempt>* tried) {
  const std::string given = plan.env_var ? env(plan.env_var) : "";
  if (!given.empty()) {
    if (is_dir(given)) {
      if (folder(plan, given, out, tried)) return true;
    } else if (exists(given)) {
      // dlopen searches the library path for a name without '/': anchor it to the cwd
      if (attempt(plan, given.find('/') == std::string::npos ? "./" + given : given, out, tried)) return true;
    } else {
      tried->push_back({given, "no such file or folder"});
    }
  }
  for (const auto& n : plan.names)
    if (attempt(plan, n, out, tried)) return true;
  for (const auto& d : plan.folders)
    if (folder(plan, d, out, tried)) return true;
  return false;
}

}  // namespace repmlp::dl
